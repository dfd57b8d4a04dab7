//! Where device keys and offline-code secrets live: the [`KeyStore`] seam.
//!
//! [`PlatformKeyStore`] is the platform keychain through `keyring` (Secret Service on Linux,
//! Keychain on Apple, Credential Manager on Windows). [`MemoryKeyStore`] (feature `testing`)
//! is for tests and load benchmarks only. There is no file fallback: without a keychain,
//! enrollment fails with [`CoreError::KeychainUnavailable`].

use zeroize::Zeroizing;

use crate::error::{CoreError, CoreResult};

/// The keychain service name every Inkan entry is filed under.
pub const KEYCHAIN_SERVICE: &str = "jp.inkan.authenticator";

/// Secrets by entry name. Implementations must never log or write secrets elsewhere.
pub trait KeyStore: Send + Sync + 'static {
    fn put(&self, entry: &str, secret: &[u8]) -> CoreResult<()>;
    /// `Ok(None)` when there is no such entry.
    fn get(&self, entry: &str) -> CoreResult<Option<Zeroizing<Vec<u8>>>>;
    /// Deleting a missing entry is not an error.
    fn delete(&self, entry: &str) -> CoreResult<()>;
    /// For messages: "Secret Service", "memory (tests)".
    fn describe(&self) -> &'static str;
}

/// Stands in for the keychain when none is reachable, so an app still opens and says why on
/// every action that needs it. It holds nothing, and is never a fallback store.
#[derive(Debug)]
pub struct UnavailableKeyStore(pub String);

impl KeyStore for UnavailableKeyStore {
    fn put(&self, _: &str, _: &[u8]) -> CoreResult<()> {
        Err(CoreError::KeychainUnavailable(self.0.clone()))
    }
    fn get(&self, _: &str) -> CoreResult<Option<Zeroizing<Vec<u8>>>> {
        Err(CoreError::KeychainUnavailable(self.0.clone()))
    }
    fn delete(&self, _: &str) -> CoreResult<()> {
        Err(CoreError::KeychainUnavailable(self.0.clone()))
    }
    fn describe(&self) -> &'static str {
        "no keychain"
    }
}

/// The platform keychain, or (with a warning) [`UnavailableKeyStore`] saying why there is none.
pub fn platform_or_unavailable() -> std::sync::Arc<dyn KeyStore> {
    match PlatformKeyStore::open() {
        Ok(k) => std::sync::Arc::new(k),
        Err(e) => {
            tracing::warn!(code = e.code(), "no keychain: enrollment and approvals will fail until one is available");
            std::sync::Arc::new(UnavailableKeyStore(e.to_string()))
        }
    }
}

/// The platform keychain.
#[derive(Debug)]
pub struct PlatformKeyStore {
    _private: (),
}

fn keyring_error(e: keyring::Error) -> CoreError {
    match e {
        keyring::Error::NoStorageAccess(inner) => CoreError::KeychainLocked(inner.to_string()),
        keyring::Error::NoDefaultStore => CoreError::KeychainUnavailable("no platform keychain is available".into()),
        keyring::Error::PlatformFailure(inner) => CoreError::KeychainUnavailable(inner.to_string()),
        other => CoreError::KeychainUnavailable(other.to_string()),
    }
}

impl PlatformKeyStore {
    /// Connects to the platform keychain, failing clearly if there is none.
    pub fn open() -> CoreResult<Self> {
        if let Err(e) = keyring::Entry::store_status() {
            return Err(CoreError::KeychainUnavailable(e.to_string()));
        }
        Ok(PlatformKeyStore { _private: () })
    }

    fn entry(entry: &str) -> CoreResult<keyring::Entry> {
        keyring::Entry::new(KEYCHAIN_SERVICE, entry).map_err(keyring_error)
    }
}

impl KeyStore for PlatformKeyStore {
    fn put(&self, entry: &str, secret: &[u8]) -> CoreResult<()> {
        Self::entry(entry)?.set_secret(secret).map_err(keyring_error)
    }

    fn get(&self, entry: &str) -> CoreResult<Option<Zeroizing<Vec<u8>>>> {
        match Self::entry(entry)?.get_secret() {
            Ok(secret) => Ok(Some(Zeroizing::new(secret))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error(e)),
        }
    }

    fn delete(&self, entry: &str) -> CoreResult<()> {
        match Self::entry(entry)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error(e)),
        }
    }

    fn describe(&self) -> &'static str {
        if cfg!(target_os = "linux") {
            "Secret Service"
        } else if cfg!(target_vendor = "apple") {
            "Keychain"
        } else if cfg!(windows) {
            "Credential Manager"
        } else {
            "platform keychain"
        }
    }
}

/// An in-memory key store for tests and load benchmarks: keys die with the process and sit in
/// plain memory, so nothing but tests and the CLI's fleet asked for it by name
/// (`--keystore insecure-memory`) may use it. It can be told to fail, to test the paths where
/// the keychain is missing or locked.
#[cfg(any(test, feature = "insecure-memory-keystore"))]
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    entries: std::sync::Mutex<std::collections::HashMap<String, Zeroizing<Vec<u8>>>>,
    failing: std::sync::atomic::AtomicBool,
}

#[cfg(any(test, feature = "insecure-memory-keystore"))]
impl MemoryKeyStore {
    pub fn new() -> Self {
        Self::default()
    }
    /// From now on every call fails as a locked keychain would.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn len(&self) -> usize {
        self.entries.lock().expect("lock").len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn check(&self) -> CoreResult<()> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(CoreError::KeychainLocked("memory key store told to fail".into()));
        }
        Ok(())
    }
}

#[cfg(any(test, feature = "insecure-memory-keystore"))]
impl KeyStore for MemoryKeyStore {
    fn put(&self, entry: &str, secret: &[u8]) -> CoreResult<()> {
        self.check()?;
        self.entries.lock().expect("lock").insert(entry.to_owned(), Zeroizing::new(secret.to_vec()));
        Ok(())
    }
    fn get(&self, entry: &str) -> CoreResult<Option<Zeroizing<Vec<u8>>>> {
        self.check()?;
        Ok(self.entries.lock().expect("lock").get(entry).cloned())
    }
    fn delete(&self, entry: &str) -> CoreResult<()> {
        self.check()?;
        self.entries.lock().expect("lock").remove(entry);
        Ok(())
    }
    fn describe(&self) -> &'static str {
        "memory (tests)"
    }
}
