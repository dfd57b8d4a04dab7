//! `inkan-core`: the authenticator engine that the Inkan app and the `inkan` CLI share.
//!
//! It enrolls this device from an enrollment link or QR image (the device key is made here and
//! goes straight into the platform keychain), authenticates to the server, keeps the live push
//! channel open with reconnects, checks every pushed challenge against the server key pinned
//! at enrollment, signs approvals and denials over exactly what the person saw, and shows
//! offline codes. Outside things are seams: [`KeyStore`] (keychain), [`Clock`], the HTTP
//! client; non-secret state lives in a [`Profile`] directory.
//!
//! It is not a user interface: no strings for people beyond error codes and one-line
//! summaries, no prompts. It never writes a secret to a file or a log.
#![forbid(unsafe_code)]

pub mod authenticator;
pub mod client;
pub mod error;
pub mod inbox;
pub mod keystore;
pub mod loopback;
pub mod passkeys;
pub mod profile;
pub mod qr;
pub mod sse;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use authenticator::{Authenticator, OfflineCode, WatchEvent};
pub use error::{CoreError, CoreResult};
pub use inbox::{Inbox, PendingChallenge};
pub use inkan_protocol::clock::{Clock, ManualClock, SharedClock, SystemClock};
#[cfg(any(test, feature = "insecure-memory-keystore"))]
pub use keystore::MemoryKeyStore;
pub use keystore::{KeyStore, PlatformKeyStore, UnavailableKeyStore, platform_or_unavailable};
pub use passkeys::{PasskeyStore, Passkeys, StoredPasskey};
pub use profile::{Account, HistoryEntry, Profile};
