//! Outgoing mail: notifications (ログイン通知, 自動通知サービス) and e-mail one-time codes.
//!
//! [`Mailer`] is the seam. [`SmtpMailer`] (lettre over SMTP) is what production uses;
//! [`InsecureDevOutbox`] keeps mail in the database for the demo's `/outbox` page, and the
//! production configuration refuses it.

use std::future::Future;
use std::pin::Pin;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::store::Store;

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

/// Mail over SMTP, to the server a `smtp://`, `smtps://` or `smtp://…?tls=required` URL names.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(url: &str, from: &str) -> anyhow::Result<Self> {
        let transport =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| anyhow::anyhow!("SMTP URL: {e}"))?.build();
        Ok(SmtpMailer { transport, from: from.parse().map_err(|e| anyhow::anyhow!("mail sender {from:?}: {e}"))? })
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, mail: Mail) -> MailFuture<'_> {
        Box::pin(async move {
            let message = Message::builder()
                .from(self.from.clone())
                .to(mail.to.parse().map_err(|e| anyhow::anyhow!("recipient: {e}"))?)
                .subject(mail.subject)
                .header(lettre::message::header::ContentType::TEXT_PLAIN)
                .body(mail.body)?;
            self.transport.send(message).await?;
            Ok(())
        })
    }
}

/// Development and QA only: mail goes into the `outbox` table and the site shows it at
/// `/outbox`. Refused by the production configuration.
pub struct InsecureDevOutbox {
    pub store: Store,
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
