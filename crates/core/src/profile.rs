//! Non-secret local state: the enrolled accounts and the history of decisions, as files in
//! the platform's app-data directory (or a directory given for QA's virtual devices).
//! Secrets never come here; they live in the [`crate::KeyStore`].

use std::path::{Path, PathBuf};

use inkan_protocol::keys::DevicePublicKey;
use inkan_protocol::{ChallengeState, Decision};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, CoreResult};

/// Decisions kept in the history file; older ones are dropped.
pub const MAX_HISTORY_ENTRIES: usize = 1000;

/// One enrollment: this device, bound to one account on one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Local id, random; names the keychain entries.
    pub id: String,
    /// Display name (from the enrollment link's label; renamable).
    pub name: String,
    pub origin: String,
    pub account_id: String,
    pub device_id: String,
    pub device_name: String,
    /// The server's challenge-signing key, pinned at enrollment.
    pub server_public_key: DevicePublicKey,
    pub totp_digits: u32,
    pub totp_period: u32,
    pub enrolled_at: i64,
}

impl Account {
    pub fn device_key_entry(&self) -> String {
        device_key_entry(&self.id)
    }
    pub fn totp_entry(&self) -> String {
        totp_entry(&self.id)
    }
}

pub fn device_key_entry(local_id: &str) -> String {
    format!("{local_id}/device-key")
}

pub fn totp_entry(local_id: &str) -> String {
    format!("{local_id}/totp")
}

/// A decision taken on this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: i64,
    pub account: String,
    pub challenge_id: String,
    pub kind: String,
    pub summary: String,
    pub decision: Decision,
    pub state: ChallengeState,
}

#[derive(Debug, Clone)]
pub struct Profile {
    dir: PathBuf,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> CoreError {
    CoreError::Storage(format!("{}: {e}", path.display()))
}

impl Profile {
    /// A profile in `dir` (created if missing).
    pub fn open(dir: impl Into<PathBuf>) -> CoreResult<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        Ok(Profile { dir })
    }

    /// The platform's app-data directory for Inkan.
    pub fn default_dir() -> CoreResult<PathBuf> {
        directories::ProjectDirs::from("jp", "Inkan", "Inkan")
            .map(|d| d.data_dir().to_path_buf())
            .ok_or_else(|| CoreError::Storage("no home directory to keep app data in".into()))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn accounts_path(&self) -> PathBuf {
        self.dir.join("accounts.json")
    }

    fn history_path(&self) -> PathBuf {
        self.dir.join("history.json")
    }

    fn read_json<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> CoreResult<T> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| io_err(path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(e) => Err(io_err(path, e)),
        }
    }

    /// Writes through a temporary file and a rename, so a crash never leaves half a file.
    fn write_json<T: Serialize>(path: &Path, value: &T) -> CoreResult<()> {
        let tmp = path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(value).map_err(|e| io_err(path, e))?;
        std::fs::write(&tmp, bytes).map_err(|e| io_err(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))
    }

    pub fn accounts(&self) -> CoreResult<Vec<Account>> {
        Self::read_json(&self.accounts_path())
    }

    pub fn add_account(&self, account: Account) -> CoreResult<()> {
        let mut all = self.accounts()?;
        all.push(account);
        Self::write_json(&self.accounts_path(), &all)
    }

    pub fn remove_account(&self, local_id: &str) -> CoreResult<()> {
        let mut all = self.accounts()?;
        all.retain(|a| a.id != local_id);
        Self::write_json(&self.accounts_path(), &all)
    }

    pub fn rename_account(&self, local_id: &str, name: &str) -> CoreResult<()> {
        let mut all = self.accounts()?;
        let account = all.iter_mut().find(|a| a.id == local_id).ok_or_else(|| CoreError::AccountNotFound(local_id.to_owned()))?;
        account.name = name.to_owned();
        Self::write_json(&self.accounts_path(), &all)
    }

    /// Newest first.
    pub fn history(&self) -> CoreResult<Vec<HistoryEntry>> {
        Self::read_json(&self.history_path())
    }

    pub fn record(&self, entry: HistoryEntry) -> CoreResult<()> {
        let mut all = self.history()?;
        all.insert(0, entry);
        all.truncate(MAX_HISTORY_ENTRIES);
        Self::write_json(&self.history_path(), &all)
    }
}
