//! `inkan-protocol`: everything the Inkan server and the Inkan authenticator must agree on.
//!
//! It holds the wire types (every struct that crosses the network or is signed), the
//! enrollment URI (`inkan://enroll?...`), the canonical signed messages
//! (`label || 0x00 || JCS(payload)`, ECDSA P-256 / SHA-256), the RFC 8785 canonicalisation
//! they rest on, the RFC 6238 offline codes, and the stable error codes.
//!
//! It is pure: no IO, no clock, no randomness. Time and keys come in as arguments, so the
//! same functions run on the server, in the core, and in the test vectors under `vectors/`.
//! It is not the place for policy (expiry rules, rate limits): that lives with the server and
//! the core, which call in here to build and check bytes.
#![forbid(unsafe_code)]

pub mod clock;
pub mod display;
pub mod error;
pub mod error_text;
pub mod jcs;
pub mod keys;
pub mod signed;
pub mod totp;
pub mod uri;
pub mod vectors;
pub mod webhook;
pub mod wire;

pub use error::{ErrorCode, ProtocolError};
pub use keys::{DevicePublicKey, Signature};
pub use signed::{ApprovalPayload, DeviceAuthPayload, EnrollPayload, Label};
pub use uri::EnrollmentUri;
pub use wire::*;

/// The loopback port a desktop authenticator listens on for same-device approval, and that
/// the site's page calls (a deployment may set another on both sides).
pub const DEFAULT_LOOPBACK_PORT: u16 = 47_321;
