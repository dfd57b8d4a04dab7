//! The enrollment link: `inkan://enroll?v=1&origin=…&ticket=…&server_key=…&label=…`.
//!
//! It is what the enrollment QR code holds. Parsing is strict: every field exactly once, no
//! unknown fields, and a distinct [`UriError`] for each way a link can be wrong, so the app
//! and the CLI can say precisely what is off with a scanned or pasted link.
//!
//! - `v`: the format version, `1`.
//! - `origin`: the verification server, `https://host[:port]`; `http` only for loopback hosts
//!   (development and tests).
//! - `ticket`: the one-time enrollment ticket, 32 random bytes in base64url.
//! - `server_key`: the fingerprint (SHA-256, base64url) of the server's challenge-signing key.
//!   The device pins the key whose fingerprint matches, so a server reached over a hostile
//!   network cannot substitute its own key.
//! - `label`: a display hint (brokerage and masked account), shown before the person confirms.

use url::Url;

/// The only version this build writes and reads.
pub const URI_VERSION: &str = "1";
/// Longer links are refused before parsing (a QR code of this format stays far below it).
pub const MAX_URI_LEN: usize = 2048;
/// Longest display hint, in characters.
pub const MAX_LABEL_CHARS: usize = 100;
/// Ticket secrets are this many random bytes.
pub const TICKET_BYTES: usize = 32;

/// A parsed, validated enrollment link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentUri {
    /// Serialized origin, no trailing slash: `https://broker.example` or `http://127.0.0.1:8080`.
    pub origin: String,
    pub ticket: String,
    pub server_key_fingerprint: String,
    pub label: String,
}

/// Every way an enrollment link can be refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("the link is empty")]
    Empty,
    #[error("the link is longer than {MAX_URI_LEN} characters")]
    TooLong,
    #[error("the text is not a link")]
    NotAUri,
    #[error("the link is not an Inkan link (scheme {0:?}, expected \"inkan\")")]
    WrongScheme(String),
    #[error("the Inkan link is not an enrollment link ({0:?})")]
    WrongAction(String),
    #[error("the link's format version {0:?} is not supported (this app reads version 1)")]
    UnsupportedVersion(String),
    #[error("the link lacks its {0:?} field")]
    MissingField(&'static str),
    #[error("the link has its {0:?} field twice")]
    DuplicateField(String),
    #[error("the link has an unknown field {0:?}")]
    UnknownField(String),
    #[error("the link's server address is not valid: {0}")]
    BadOrigin(String),
    #[error("the link's ticket is malformed")]
    BadTicket,
    #[error("the link's server key fingerprint is malformed")]
    BadServerKey,
    #[error("the link's label is too long or holds control characters")]
    BadLabel,
}

impl UriError {
    pub fn code(&self) -> &'static str {
        match self {
            UriError::Empty => "uri_empty",
            UriError::TooLong => "uri_too_long",
            UriError::NotAUri => "uri_not_a_link",
            UriError::WrongScheme(_) => "uri_wrong_scheme",
            UriError::WrongAction(_) => "uri_wrong_action",
            UriError::UnsupportedVersion(_) => "uri_unsupported_version",
            UriError::MissingField(_) => "uri_missing_field",
            UriError::DuplicateField(_) => "uri_duplicate_field",
            UriError::UnknownField(_) => "uri_unknown_field",
            UriError::BadOrigin(_) => "uri_bad_origin",
            UriError::BadTicket => "uri_bad_ticket",
            UriError::BadServerKey => "uri_bad_server_key",
            UriError::BadLabel => "uri_bad_label",
        }
    }
}

/// Validates a server origin and returns its canonical spelling (`scheme://host[:port]`).
/// `https` anywhere; `http` only on loopback (`localhost`, `127.0.0.0/8`, `[::1]`).
pub fn normalize_origin(text: &str) -> Result<String, UriError> {
    let url = Url::parse(text).map_err(|e| UriError::BadOrigin(e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UriError::BadOrigin("credentials are not allowed".into()));
    }
    if url.path() != "/" && !url.path().is_empty() {
        return Err(UriError::BadOrigin("a path is not allowed".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(UriError::BadOrigin("a query or fragment is not allowed".into()));
    }
    let host = url.host().ok_or_else(|| UriError::BadOrigin("no host".into()))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => return Err(UriError::BadOrigin("plain http is allowed only on loopback".into())),
        other => return Err(UriError::BadOrigin(format!("scheme {other:?} is not allowed"))),
    }
    Ok(url.origin().ascii_serialization())
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

fn is_b64url_of_len(text: &str, bytes: usize) -> bool {
    crate::keys::unb64(text).is_ok_and(|b| b.len() == bytes)
}

impl EnrollmentUri {
    /// Builds a link, validating every field as [`EnrollmentUri::parse`] would.
    pub fn new(origin: &str, ticket: &str, server_key_fingerprint: &str, label: &str) -> Result<Self, UriError> {
        let uri = EnrollmentUri {
            origin: normalize_origin(origin)?,
            ticket: ticket.to_owned(),
            server_key_fingerprint: server_key_fingerprint.to_owned(),
            label: label.to_owned(),
        };
        uri.validate()?;
        Ok(uri)
    }

    fn validate(&self) -> Result<(), UriError> {
        if !is_b64url_of_len(&self.ticket, TICKET_BYTES) {
            return Err(UriError::BadTicket);
        }
        if !is_b64url_of_len(&self.server_key_fingerprint, 32) {
            return Err(UriError::BadServerKey);
        }
        if self.label.chars().count() > MAX_LABEL_CHARS || self.label.chars().any(char::is_control) {
            return Err(UriError::BadLabel);
        }
        Ok(())
    }

    /// Parses a scanned or pasted link. Surrounding white space is ignored.
    pub fn parse(text: &str) -> Result<Self, UriError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(UriError::Empty);
        }
        if text.len() > MAX_URI_LEN {
            return Err(UriError::TooLong);
        }
        let url = Url::parse(text).map_err(|_| UriError::NotAUri)?;
        if url.scheme() != "inkan" {
            return Err(UriError::WrongScheme(url.scheme().to_owned()));
        }
        let action = url.host_str().unwrap_or_default();
        if action != "enroll" || !(url.path().is_empty() || url.path() == "/") {
            return Err(UriError::WrongAction(format!("{}{}", action, url.path())));
        }
        if url.fragment().is_some() {
            return Err(UriError::UnknownField("#fragment".into()));
        }
        let (mut v, mut origin, mut ticket, mut key, mut label) = (None, None, None, None, None);
        for (name, value) in url.query_pairs() {
            let slot = match name.as_ref() {
                "v" => &mut v,
                "origin" => &mut origin,
                "ticket" => &mut ticket,
                "server_key" => &mut key,
                "label" => &mut label,
                other => return Err(UriError::UnknownField(other.to_owned())),
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(UriError::DuplicateField(name.into_owned()));
            }
        }
        let v = v.ok_or(UriError::MissingField("v"))?;
        if v != URI_VERSION {
            return Err(UriError::UnsupportedVersion(v));
        }
        let origin = origin.ok_or(UriError::MissingField("origin"))?;
        let ticket = ticket.ok_or(UriError::MissingField("ticket"))?;
        let key = key.ok_or(UriError::MissingField("server_key"))?;
        let label = label.ok_or(UriError::MissingField("label"))?;
        let origin = normalize_origin(&origin)?;
        let uri = EnrollmentUri { origin, ticket, server_key_fingerprint: key, label };
        uri.validate()?;
        Ok(uri)
    }

    /// The link text. `parse(to_uri_string())` gives back the same value.
    pub fn to_uri_string(&self) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("v", URI_VERSION)
            .append_pair("origin", &self.origin)
            .append_pair("ticket", &self.ticket)
            .append_pair("server_key", &self.server_key_fingerprint)
            .append_pair("label", &self.label)
            .finish();
        format!("inkan://enroll?{query}")
    }
}

impl std::fmt::Display for EnrollmentUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_uri_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const K: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";

    fn good() -> String {
        EnrollmentUri::new("http://127.0.0.1:8080", T, K, "デモ証券 ****5678").unwrap().to_uri_string()
    }

    #[test]
    fn round_trips() {
        let text = good();
        let uri = EnrollmentUri::parse(&text).unwrap();
        assert_eq!(uri.origin, "http://127.0.0.1:8080");
        assert_eq!(uri.label, "デモ証券 ****5678");
        assert_eq!(uri.to_uri_string(), text);
        assert_eq!(EnrollmentUri::parse(&format!("  {text}\n")).unwrap(), uri);
    }

    #[test]
    fn every_malformed_case_has_its_own_error() {
        let g = good();
        let cases: Vec<(String, UriError)> = vec![
            ("".into(), UriError::Empty),
            ("x".repeat(MAX_URI_LEN + 1), UriError::TooLong),
            ("not a link".into(), UriError::NotAUri),
            (g.replacen("inkan://", "https://", 1), UriError::WrongScheme("https".into())),
            (g.replacen("enroll", "approve", 1), UriError::WrongAction("approve".into())),
            (g.replacen("v=1", "v=2", 1), UriError::UnsupportedVersion("2".into())),
            (g.replacen("v=1&", "", 1), UriError::MissingField("v")),
            (g.replacen("&label=", "&x=1&label=", 1), UriError::UnknownField("x".into())),
            (format!("{g}&v=1"), UriError::DuplicateField("v".into())),
            (
                g.replacen("http%3A%2F%2F127.0.0.1", "http%3A%2F%2Fbroker.example", 1),
                UriError::BadOrigin("plain http is allowed only on loopback".into()),
            ),
            (g.replacen("8080", "8080%2Flogin", 1), UriError::BadOrigin("a path is not allowed".into())),
            (g.replacen(T, &T[1..], 1), UriError::BadTicket),
            (g.replacen(K, "x", 1), UriError::BadServerKey),
            (g.replacen("&label=", "&label=%07", 1), UriError::BadLabel),
            (format!("{g}#frag"), UriError::UnknownField("#fragment".into())),
        ];
        for (text, want) in cases {
            assert_eq!(EnrollmentUri::parse(&text), Err(want.clone()), "{text}");
            assert!(want.code().starts_with("uri_"));
        }
        let no_label = g.split("&label=").next().unwrap().to_owned();
        assert_eq!(EnrollmentUri::parse(&no_label), Err(UriError::MissingField("label")));
    }

    #[test]
    fn origins() {
        assert_eq!(normalize_origin("https://Broker.Example:443/").unwrap(), "https://broker.example");
        assert_eq!(normalize_origin("http://localhost:3000").unwrap(), "http://localhost:3000");
        assert_eq!(normalize_origin("http://[::1]:3000").unwrap(), "http://[::1]:3000");
        assert!(normalize_origin("ftp://broker.example").is_err());
        assert!(normalize_origin("https://u:p@broker.example").is_err());
        assert!(normalize_origin("https://broker.example/?a=1").is_err());
    }
}
