//! Outgoing mail: notifications (ログイン通知, 自動通知サービス) and e-mail one-time codes.
//!
//! [`Mailer`] is the seam. [`SmtpMailer`] (lettre over SMTP) is what production uses;
//! [`InsecureDevOutbox`] keeps mail in the database for the demo's `/outbox` page, and the
//! production configuration refuses it.
//!
//! Every mail sent over SMTP is DKIM-signed ([`DkimSigner`], RFC 6376, relaxed/relaxed) with
//! the operator's key, with `d=` aligned with the From domain, so that DMARC passes and a
//! BIMI logo can show. Production settings refuse to start without a key.

use std::future::Future;
use std::pin::Pin;

use lettre::message::Mailbox;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm, DkimSigningKey,
};
use lettre::message::header::HeaderName;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::settings::DkimSettings;

use crate::db::SiteStore;

/// One mail: plain text, Japanese first, English second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

pub type MailFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;

pub trait Mailer: Send + Sync + 'static {
    fn send(&self, mail: Mail) -> MailFuture<'_>;
}

/// The headers a signature covers, where the mail has them. From is required by RFC 6376;
/// the rest are what a forger would change.
const SIGNED_HEADERS: &[&str] =
    &["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"];

/// Signs mail with the operator's DKIM key.
pub struct DkimSigner {
    selector: String,
    domain: String,
    /// The From domain is `d=` itself (DMARC may then ask for strict alignment).
    strict_alignment: bool,
    /// The parsed key and signing options, made once: parsing and checking an RSA key costs
    /// more than the signature itself.
    config: DkimConfig,
    /// The DNS TXT record that publishes the public half.
    dns_record: String,
}

impl std::fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimSigner")
            .field("selector", &self.selector)
            .field("domain", &self.domain)
            .field("dns_record", &self.dns_record)
            .finish_non_exhaustive()
    }
}

impl DkimSigner {
    /// Checks the settings (selector syntax, From alignment, the key parses) and derives the
    /// public record. An RSA key may be PKCS#1 or PKCS#8 PEM.
    pub fn new(settings: &DkimSettings, mail_from: &str) -> anyhow::Result<DkimSigner> {
        use base64::Engine as _;
        use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
        use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
        let selector = settings.selector.trim().to_owned();
        anyhow::ensure!(
            !selector.is_empty()
                && selector.split('.').all(|label| {
                    !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                }),
            "DKIM selector {selector:?}: letters, digits, '-' and '_' in dot-separated labels"
        );
        let domain = settings.domain.trim().trim_end_matches('.').to_ascii_lowercase();
        anyhow::ensure!(domain.contains('.'), "DKIM domain {domain:?} must be a full domain name");
        let from: Mailbox = mail_from.parse().map_err(|e| anyhow::anyhow!("mail sender {mail_from:?}: {e}"))?;
        let from_domain = from.email.domain().to_ascii_lowercase();
        anyhow::ensure!(
            from_domain == domain || from_domain.ends_with(&format!(".{domain}")),
            "DKIM domain {domain:?} is not aligned with the From domain {from_domain:?}: DMARC would fail (sign with the From domain or a parent of it)"
        );
        let text = settings.private_key.expose().trim();
        let b64 = base64::engine::general_purpose::STANDARD;
        let lettre_key =
            |text: &str, algorithm| DkimSigningKey::new(text, algorithm).map_err(|e| anyhow::anyhow!("DKIM key: {e}"));
        let (key, record) = if text.starts_with("-----BEGIN") {
            let private = rsa::RsaPrivateKey::from_pkcs1_pem(text)
                .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_pem(text))
                .map_err(|e| anyhow::anyhow!("DKIM key: not an RSA private key in PKCS#1 or PKCS#8 PEM: {e}"))?;
            anyhow::ensure!(
                rsa::traits::PublicKeyParts::size(&private) * 8 >= 2048,
                "DKIM key: RSA keys must have at least 2048 bits"
            );
            let public = private.to_public_key().to_public_key_der().map_err(|e| anyhow::anyhow!("DKIM key: {e}"))?;
            // lettre takes PKCS#1 PEM only.
            let pem = private.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF).map_err(|e| anyhow::anyhow!("DKIM key: {e}"))?;
            (
                lettre_key(&pem, DkimSigningAlgorithm::Rsa)?,
                format!("v=DKIM1; k=rsa; p={}", b64.encode(public.as_bytes())),
            )
        } else {
            let seed: zeroize::Zeroizing<Vec<u8>> = zeroize::Zeroizing::new(
                b64.decode(text)
                    .map_err(|_| anyhow::anyhow!("DKIM key: neither PEM nor the base64 of an Ed25519 seed"))?,
            );
            let seed: [u8; 32] =
                seed.as_slice().try_into().map_err(|_| anyhow::anyhow!("DKIM key: an Ed25519 seed is 32 bytes"))?;
            let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
            (
                lettre_key(text, DkimSigningAlgorithm::Ed25519)?,
                format!("v=DKIM1; k=ed25519; p={}", b64.encode(public.as_bytes())),
            )
        };
        let headers = SIGNED_HEADERS.iter().map(|h| HeaderName::new_from_ascii_str(h)).collect();
        let canonicalization =
            DkimCanonicalization { header: DkimCanonicalizationType::Relaxed, body: DkimCanonicalizationType::Relaxed };
        let config = DkimConfig::new(selector.clone(), domain.clone(), key, headers, canonicalization);
        let strict_alignment = from_domain == domain;
        Ok(DkimSigner { selector, domain, strict_alignment, config, dns_record: record })
    }

    /// The TXT record to publish at [`Self::dns_name`].
    pub fn dns_record(&self) -> &str {
        &self.dns_record
    }

    /// `<selector>._domainkey.<domain>`.
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// DMARC's `adkim`: `s` (strict) where From is the signing domain itself, `r` (relaxed)
    /// for a From in a subdomain of it.
    pub fn dmarc_adkim(&self) -> &'static str {
        if self.strict_alignment { "s" } else { "r" }
    }

    /// Adds the `DKIM-Signature` header.
    pub fn sign(&self, message: &mut Message) -> anyhow::Result<()> {
        lettre::message::dkim::dkim_sign(message, &self.config);
        Ok(())
    }
}

/// The message as it goes out: headers, a Message-ID in the sender's domain, and the DKIM
/// signature when a signer is given.
pub fn build_message(from: &Mailbox, mail: Mail, signer: Option<&DkimSigner>) -> anyhow::Result<Message> {
    // One line end after the text, none beyond: the body every canonicalization agrees on
    // (lettre's relaxed body hash of a body of only empty lines differs from RFC 6376's).
    let text = mail.body.trim_end();
    anyhow::ensure!(!text.is_empty(), "a mail needs a body (to {:?}, {:?})", mail.to, mail.subject);
    let body = format!("{text}\n");
    let id = format!("<{}@{}>", crate::random_token(18), from.email.domain());
    let mut message = Message::builder()
        .from(from.clone())
        .to(mail.to.parse().map_err(|e| anyhow::anyhow!("recipient: {e}"))?)
        .subject(mail.subject)
        .message_id(Some(id))
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(body)?;
    if let Some(signer) = signer {
        signer.sign(&mut message)?;
    }
    Ok(message)
}

/// Mail over SMTP, to the server a `smtp://`, `smtps://` or `smtp://…?tls=required` URL names.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    signer: Option<DkimSigner>,
}

impl SmtpMailer {
    /// `dkim` is required outside `--dev` ([`crate::settings::Settings::check`]); without
    /// it, mail goes out unsigned and this says so once.
    pub fn new(url: &str, from: &str, dkim: Option<&DkimSettings>) -> anyhow::Result<Self> {
        let transport =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| anyhow::anyhow!("SMTP URL: {e}"))?.build();
        let signer = dkim.map(|d| DkimSigner::new(d, from)).transpose()?;
        match &signer {
            Some(s) => {
                tracing::info!(selector = %s.selector, domain = %s.domain, dns_name = %s.dns_name(), dns_record = %s.dns_record(), "mail is DKIM-signed")
            }
            None => tracing::warn!("no DKIM key configured: mail goes out unsigned (development only)"),
        }
        Ok(SmtpMailer {
            transport,
            from: from.parse().map_err(|e| anyhow::anyhow!("mail sender {from:?}: {e}"))?,
            signer,
        })
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, mail: Mail) -> MailFuture<'_> {
        Box::pin(async move {
            let message = build_message(&self.from, mail, self.signer.as_ref())?;
            self.transport.send(message).await?;
            Ok(())
        })
    }
}

/// Development and QA only: mail goes into the `outbox` table and the site shows it at
/// `/outbox`. Refused by the production configuration.
pub struct InsecureDevOutbox {
    pub store: SiteStore,
    pub clock: crate::SharedClock,
}

impl Mailer for InsecureDevOutbox {
    fn send(&self, mail: Mail) -> MailFuture<'_> {
        Box::pin(async move {
            self.store.insert_outbox(self.clock.now(), &mail).await?;
            Ok(())
        })
    }
}
