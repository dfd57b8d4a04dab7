//! Non-secret local state: the enrolled accounts and the history of decisions, as files in
//! the platform's app-data directory (or a directory given for QA's virtual devices).
//! Secrets never come here; they live in the [`crate::KeyStore`].

use std::path::{Path, PathBuf};

use inkan_protocol::keys::DevicePublicKey;
use inkan_protocol::{ChallengeState, Decision};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, CoreResult};

/// Decisions kept in the history; older ones are dropped when the file is compacted.
pub const MAX_HISTORY_ENTRIES: usize = 1000;

/// One enrollment: this device, bound to one account on one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Local id, random; names the keychain entries.
    pub id: String,
    /// Display name (from the enrollment link's label; renamable).
    pub name: String,
    pub origin: String,
    /// The origin of the relying party's web pages when it is not `origin` (the verifier
    /// said so at enrollment): same-device requests are taken from it alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_origin: Option<String>,
    /// The relying party's name for people (the verifier said so at enrollment); `None` for
    /// accounts enrolled before it did, or with a verifier that has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rp_name: Option<inkan_protocol::RpName>,
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
    /// The origin whose pages may ask this app for same-device approval.
    pub fn page_origin(&self) -> &str {
        self.web_origin.as_deref().unwrap_or(&self.origin)
    }

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
    /// What was shown and signed, for a history in the reader's language (absent in entries
    /// written before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<inkan_protocol::ChallengeDetails>,
    pub decision: Decision,
    pub state: ChallengeState,
    /// The server refused the decision and ended the request (`number_mismatch`): the error
    /// code. Absent for decisions the server took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Profile {
    dir: PathBuf,
    /// Held across every read-modify-write of a file here, so that many enrollments or
    /// decisions in one process (the CLI's fleet) never lose each other's changes. Clones
    /// share it.
    write_lock: std::sync::Arc<std::sync::Mutex<()>>,
    /// The accounts as last read or written by this process, so that a thousand enrollments
    /// do not parse the file a thousand times. Another process writing the same profile is
    /// noticed by the file's modification time and length.
    accounts_cache: std::sync::Arc<std::sync::Mutex<AccountsCache>>,
}

/// What tells a file changed under us: modification time and length.
type FileStamp = Option<(std::time::SystemTime, u64)>;
/// The accounts file's stamp and contents, when read or written by this process.
type AccountsCache = Option<(FileStamp, Vec<Account>)>;

/// Replaces `path`'s contents through a temporary file beside it (`NAME.EXT.tmp`) and a
/// rename, so a crash never leaves half a file.
fn replace_file(path: &Path, bytes: &[u8]) -> CoreResult<()> {
    let ext = path.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_extension(format!("{ext}.tmp"));
    std::fs::write(&tmp, bytes).map_err(|e| io_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))
}

fn stamp(path: &Path) -> FileStamp {
    std::fs::metadata(path).ok().and_then(|m| Some((m.modified().ok()?, m.len())))
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> CoreError {
    CoreError::Storage(format!("{}: {e}", path.display()))
}

impl Profile {
    /// A profile in `dir` (created if missing).
    pub fn open(dir: impl Into<PathBuf>) -> CoreResult<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        Ok(Profile { dir, write_lock: Default::default(), accounts_cache: Default::default() })
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
        self.dir.join("history.jsonl")
    }

    pub(crate) fn read_json_file<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> CoreResult<T> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| io_err(path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(e) => Err(io_err(path, e)),
        }
    }

    /// Writes through a temporary file and a rename, so a crash never leaves half a file.
    pub(crate) fn write_json_file<T: Serialize>(path: &Path, value: &T) -> CoreResult<()> {
        let bytes = serde_json::to_vec_pretty(value).map_err(|e| io_err(path, e))?;
        replace_file(path, &bytes)
    }

    pub fn accounts(&self) -> CoreResult<Vec<Account>> {
        let path = self.accounts_path();
        let mut cache = self.accounts_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = stamp(&path);
        if let Some((seen, accounts)) = cache.as_ref()
            && *seen == now
            && now.is_some()
        {
            return Ok(accounts.clone());
        }
        let accounts: Vec<Account> = Self::read_json_file(&path)?;
        *cache = Some((now, accounts.clone()));
        Ok(accounts)
    }

    /// Writes the accounts file (compact: it is rewritten on every change) and remembers it.
    fn write_accounts(&self, all: Vec<Account>) -> CoreResult<()> {
        let path = self.accounts_path();
        let bytes = serde_json::to_vec(&all).map_err(|e| io_err(&path, e))?;
        replace_file(&path, &bytes)?;
        *self.accounts_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((stamp(&path), all));
        Ok(())
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, ()> {
        self.write_lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn add_account(&self, account: Account) -> CoreResult<()> {
        let _held = self.locked();
        let mut all = self.accounts()?;
        all.push(account);
        self.write_accounts(all)
    }

    pub fn remove_account(&self, local_id: &str) -> CoreResult<()> {
        let _held = self.locked();
        let mut all = self.accounts()?;
        all.retain(|a| a.id != local_id);
        self.write_accounts(all)
    }

    pub fn rename_account(&self, local_id: &str, name: &str) -> CoreResult<()> {
        let _held = self.locked();
        let mut all = self.accounts()?;
        let account =
            all.iter_mut().find(|a| a.id == local_id).ok_or_else(|| CoreError::AccountNotFound(local_id.to_owned()))?;
        account.name = name.to_owned();
        self.write_accounts(all)
    }

    /// Newest first, at most [`MAX_HISTORY_ENTRIES`].
    pub fn history(&self) -> CoreResult<Vec<HistoryEntry>> {
        let path = self.history_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&path, e)),
        };
        // A line cut short by a crash is skipped rather than failing the whole history.
        let mut all: Vec<HistoryEntry> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        all.reverse();
        all.truncate(MAX_HISTORY_ENTRIES);
        Ok(all)
    }

    /// Appends one decision (one short write); compacts the file when it has grown to twice
    /// the kept length.
    pub fn record(&self, entry: HistoryEntry) -> CoreResult<()> {
        use std::io::Write;
        let _held = self.locked();
        let path = self.history_path();
        let mut line = serde_json::to_string(&entry).map_err(|e| io_err(&path, e))?;
        line.push('\n');
        let mut file =
            std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| io_err(&path, e))?;
        file.write_all(line.as_bytes()).map_err(|e| io_err(&path, e))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len > (2 * MAX_HISTORY_ENTRIES * line.len()) as u64 {
            let mut kept = self.history()?;
            kept.reverse();
            let text: String = kept.iter().filter_map(|e| serde_json::to_string(e).ok()).map(|l| l + "\n").collect();
            replace_file(&path, text.as_bytes())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: i64) -> HistoryEntry {
        HistoryEntry {
            at: i,
            account: "a".into(),
            challenge_id: format!("c{i}"),
            kind: "login".into(),
            summary: "s".into(),
            details: None,
            decision: Decision::Approve,
            state: ChallengeState::Approved,
            refused: None,
        }
    }

    #[test]
    fn history_is_newest_first_bounded_and_survives_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = Profile::open(dir.path()).unwrap();
        assert!(p.history().unwrap().is_empty());
        for i in 0..(2 * MAX_HISTORY_ENTRIES as i64 + 50) {
            p.record(entry(i)).unwrap();
        }
        let h = p.history().unwrap();
        assert_eq!(h.len(), MAX_HISTORY_ENTRIES);
        assert_eq!(h[0].at, 2 * MAX_HISTORY_ENTRIES as i64 + 49);
        let lines = std::fs::read_to_string(dir.path().join("history.jsonl")).unwrap().lines().count();
        assert!(lines <= 2 * MAX_HISTORY_ENTRIES + 1, "compacted: {lines}");
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("history.jsonl"))
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"at\": 1, \"acc"))
            .unwrap();
        assert_eq!(p.history().unwrap()[0].at, 2 * MAX_HISTORY_ENTRIES as i64 + 49);
    }

    #[test]
    fn accounts_added_from_many_threads_are_all_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = Profile::open(dir.path()).unwrap();
        let key = inkan_protocol::vectors::server_key().public_key();
        std::thread::scope(|s| {
            for t in 0..8 {
                let (p, key) = (p.clone(), key.clone());
                s.spawn(move || {
                    for i in 0..25 {
                        p.add_account(Account {
                            id: format!("l{t}-{i}"),
                            name: "n".into(),
                            origin: "https://a.example".into(),
                            web_origin: None,
                            rp_name: None,
                            account_id: "1".into(),
                            device_id: format!("d{t}-{i}"),
                            device_name: "x".into(),
                            server_public_key: key.clone(),
                            totp_digits: 6,
                            totp_period: 30,
                            enrolled_at: 0,
                        })
                        .unwrap();
                    }
                });
            }
        });
        assert_eq!(p.accounts().unwrap().len(), 200);
        // Another process's writes to the same profile are seen (a second Profile has its own copy).
        let other = Profile::open(dir.path()).unwrap();
        other.remove_account("l0-0").unwrap();
        assert_eq!(p.accounts().unwrap().len(), 199);
        assert!(p.accounts().unwrap().iter().all(|a| a.id != "l0-0"));
    }

    #[test]
    fn accounts_add_rename_remove() {
        let dir = tempfile::tempdir().unwrap();
        let p = Profile::open(dir.path()).unwrap();
        let key = inkan_protocol::vectors::server_key().public_key();
        let a = Account {
            id: "l1".into(),
            name: "n".into(),
            origin: "https://a.example".into(),
            web_origin: None,
            rp_name: None,
            account_id: "1".into(),
            device_id: "d".into(),
            device_name: "x".into(),
            server_public_key: key,
            totp_digits: 6,
            totp_period: 30,
            enrolled_at: 0,
        };
        p.add_account(a.clone()).unwrap();
        p.rename_account("l1", "新しい名前").unwrap();
        assert_eq!(p.accounts().unwrap()[0].name, "新しい名前");
        assert!(matches!(p.rename_account("nope", "x"), Err(CoreError::AccountNotFound(_))));
        p.remove_account("l1").unwrap();
        assert!(p.accounts().unwrap().is_empty());
    }
}
