//! Passkeys held by this device, with 1Password's `passkey` crate (WebAuthn client + CTAP2
//! authenticator), so the app and the CLI can log in to the brokerage's site without a browser.
//!
//! - The private key of each passkey is in the platform keychain through the same [`KeyStore`]
//!   as the device key (entry `passkey-<credential id>`, the COSE key as CBOR); the profile's
//!   `passkeys.json` keeps only what is public: credential id, relying party id, user handle,
//!   the account label the site gave, the sign counter.
//! - The client checks every request's origin against the relying party id it names (the
//!   WebAuthn rules: same registrable domain, https except `localhost`), and the authenticator
//!   only offers passkeys made for that relying party. A look-alike site gets
//!   [`CoreError::PasskeyWrongOrigin`] or [`CoreError::PasskeyNotFound`], never a signature.
//! - Sign counters are kept, so a server sees a copied credential as a counter going backwards.
//! - User verification: the key is usable only from the unlocked keychain of the logged-in user
//!   (like a platform authenticator behind the screen lock); the app adds its own confirmation
//!   before it calls in here.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use passkey::authenticator::{
    Authenticator as CtapAuthenticator, CredentialStore, DiscoverabilitySupport, StoreInfo, UiHint, UserCheck,
    UserValidationMethod,
};
use passkey::client::{Client, DefaultClientData, WebauthnError};
use passkey::crypto::coset::{CborSerializable, CoseKey};
use passkey::crypto::rust_crypto::RustCryptoBackend;
use passkey_types::ctap2::make_credential::{Options, PublicKeyCredentialRpEntity, PublicKeyCredentialUserEntity};
use passkey_types::ctap2::{Aaguid, Ctap2Error, StatusCode};
use passkey_types::webauthn::{CredentialCreationOptions, CredentialRequestOptions, PublicKeyCredentialDescriptor};
use passkey_types::{Bytes, Passkey};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{CoreError, CoreResult};
use crate::keystore::KeyStore;

/// What the profile keeps of a passkey (nothing secret).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredPasskey {
    /// base64url credential id.
    pub credential_id: String,
    pub rp_id: String,
    /// base64url WebAuthn user handle.
    pub user_handle: Option<String>,
    /// The account label the site gave (e.g. its brand and a masked account number).
    pub user_name: Option<String>,
    pub counter: u32,
    pub created_at: i64,
}

/// The keychain entry holding a passkey's private key.
pub fn passkey_entry(credential_id: &str) -> String {
    format!("passkey-{credential_id}")
}

fn b64(bytes: &[u8]) -> String {
    inkan_protocol::keys::b64(bytes)
}

/// The passkeys of one profile: metadata file + keychain.
#[derive(Clone)]
pub struct PasskeyStore {
    file: PathBuf,
    keys: Arc<dyn KeyStore>,
    /// Keychain or file errors inside the CTAP calls (which can only return a status code).
    last_error: Arc<Mutex<Option<CoreError>>>,
}

impl PasskeyStore {
    pub fn new(profile_dir: &std::path::Path, keys: Arc<dyn KeyStore>) -> Self {
        PasskeyStore { file: profile_dir.join("passkeys.json"), keys, last_error: Arc::new(Mutex::new(None)) }
    }

    pub fn list(&self) -> CoreResult<Vec<StoredPasskey>> {
        crate::Profile::read_json_file(&self.file)
    }

    fn save_list(&self, list: &[StoredPasskey]) -> CoreResult<()> {
        crate::Profile::write_json_file(&self.file, &list)
    }

    /// Deletes a passkey here (key and metadata). The site keeps its copy of the public key
    /// until it is removed there too.
    pub fn remove(&self, credential_id: &str) -> CoreResult<bool> {
        let mut list = self.list()?;
        let before = list.len();
        list.retain(|p| p.credential_id != credential_id);
        self.keys.delete(&passkey_entry(credential_id))?;
        self.save_list(&list)?;
        Ok(list.len() != before)
    }

    /// Sets a passkey's stored counter (tests use it to play a copied credential).
    pub fn set_counter(&self, credential_id: &str, counter: u32) -> CoreResult<()> {
        let mut list = self.list()?;
        for p in list.iter_mut().filter(|p| p.credential_id == credential_id) {
            p.counter = counter;
        }
        self.save_list(&list)
    }

    fn fail(&self, e: CoreError) -> StatusCode {
        *self.last_error.lock().expect("lock") = Some(e);
        Ctap2Error::Other.into()
    }

    fn take_error(&self) -> Option<CoreError> {
        self.last_error.lock().expect("lock").take()
    }

    fn load(&self, stored: &StoredPasskey) -> CoreResult<Option<Passkey>> {
        let Some(secret) = self.keys.get(&passkey_entry(&stored.credential_id))? else { return Ok(None) };
        let key = CoseKey::from_slice(&secret).map_err(|e| CoreError::Storage(format!("passkey key: {e}")))?;
        let decode = |s: &str| inkan_protocol::keys::unb64(s).map(Bytes::from);
        Ok(Some(Passkey {
            key,
            credential_id: decode(&stored.credential_id)?,
            rp_id: stored.rp_id.clone(),
            user_handle: stored.user_handle.as_deref().map(decode).transpose()?,
            username: stored.user_name.clone(),
            user_display_name: None,
            counter: Some(stored.counter),
            extensions: Default::default(),
        }))
    }
}

#[async_trait::async_trait]
impl CredentialStore for PasskeyStore {
    type PasskeyItem = Passkey;

    async fn find_credentials(
        &self,
        ids: Option<&[PublicKeyCredentialDescriptor]>,
        rp_id: &str,
        _user_handle: Option<&[u8]>,
    ) -> Result<Vec<Passkey>, StatusCode> {
        let list = self.list().map_err(|e| self.fail(e))?;
        let wanted: Option<Vec<String>> =
            ids.filter(|ids| !ids.is_empty()).map(|ids| ids.iter().map(|d| b64(&d.id)).collect());
        let mut found = Vec::new();
        for stored in list.iter().filter(|p| p.rp_id == rp_id) {
            if wanted.as_ref().is_some_and(|w| !w.contains(&stored.credential_id)) {
                continue;
            }
            if let Some(passkey) = self.load(stored).map_err(|e| self.fail(e))? {
                found.push(passkey);
            }
        }
        if found.is_empty() { Err(Ctap2Error::NoCredentials.into()) } else { Ok(found) }
    }

    async fn save_credential(
        &mut self,
        cred: Passkey,
        user: PublicKeyCredentialUserEntity,
        rp: PublicKeyCredentialRpEntity,
        _options: Options,
    ) -> Result<(), StatusCode> {
        let secret =
            cred.key.clone().to_vec().map_err(|e| self.fail(CoreError::Storage(format!("passkey key: {e}"))))?;
        let zeroized = zeroize::Zeroizing::new(secret);
        let credential_id = b64(&cred.credential_id);
        self.keys.put(&passkey_entry(&credential_id), &zeroized).map_err(|e| self.fail(e))?;
        let mut list = self.list().map_err(|e| self.fail(e))?;
        list.push(StoredPasskey {
            credential_id,
            rp_id: rp.id,
            user_handle: Some(b64(&user.id)),
            user_name: user.name,
            counter: cred.counter.unwrap_or(0),
            created_at: inkan_protocol::clock::Clock::now(&inkan_protocol::clock::SystemClock),
        });
        self.save_list(&list).map_err(|e| self.fail(e))
    }

    async fn update_credential(&mut self, cred: &Passkey) -> Result<(), StatusCode> {
        let id = b64(&cred.credential_id);
        let mut list = self.list().map_err(|e| self.fail(e))?;
        for p in list.iter_mut().filter(|p| p.credential_id == id) {
            p.counter = cred.counter.unwrap_or(p.counter);
        }
        self.save_list(&list).map_err(|e| self.fail(e))
    }

    async fn get_info(&self) -> StoreInfo {
        StoreInfo { discoverability: DiscoverabilitySupport::ForcedDiscoverable }
    }
}

/// Presence and verification: see the module notes.
struct KeychainUser;

#[async_trait::async_trait]
impl UserValidationMethod for KeychainUser {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Passkey>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck { presence, verification })
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }
}

/// This device's WebAuthn client over its [`PasskeyStore`].
pub struct Passkeys {
    store: PasskeyStore,
}

/// The "Inkan" authenticator model id (AAGUID), so a relying party can tell these passkeys apart.
pub const INKAN_AAGUID: [u8; 16] = *b"inkan-core-pk-01";

impl Passkeys {
    pub fn new(store: PasskeyStore) -> Self {
        Passkeys { store }
    }

    pub fn store(&self) -> &PasskeyStore {
        &self.store
    }

    fn client(
        &self,
        origin: &Url,
    ) -> Client<PasskeyStore, KeychainUser, RustCryptoBackend, public_suffix::PublicSuffixList, ()> {
        let mut authenticator =
            CtapAuthenticator::new(Aaguid::from(INKAN_AAGUID), self.store.clone(), KeychainUser, RustCryptoBackend);
        // Counters let the relying party see a copied credential.
        authenticator.set_make_credentials_with_signature_counter(true);
        // http is refused except for localhost (development and tests).
        Client::new(authenticator).allows_insecure_localhost(origin.host_str() == Some("localhost"))
    }

    /// Makes a passkey for `origin` from the relying party's creation options (the JSON
    /// `{"publicKey": …}` a site sends); the credential JSON to send back.
    pub async fn register(&self, origin: &Url, options: serde_json::Value) -> CoreResult<serde_json::Value> {
        let request: CredentialCreationOptions = serde_json::from_value(options)
            .map_err(|e| CoreError::BadResponse(format!("passkey creation options: {e}")))?;
        check_origin(origin, request.public_key.rp.id.as_deref())?;
        let created = self.client(origin).register(origin, request, DefaultClientData).await;
        let created = created.map_err(|e| self.error(origin, e))?;
        serde_json::to_value(created).map_err(|e| CoreError::Storage(e.to_string()))
    }

    /// Signs the relying party's request options (`{"publicKey": …}`) for `origin` with a
    /// passkey of this device; the assertion JSON to send back.
    pub async fn authenticate(&self, origin: &Url, options: serde_json::Value) -> CoreResult<serde_json::Value> {
        let request: CredentialRequestOptions = serde_json::from_value(without_mediation(options))
            .map_err(|e| CoreError::BadResponse(format!("passkey request options: {e}")))?;
        check_origin(origin, request.public_key.rp_id.as_deref())?;
        let asserted = self.client(origin).authenticate(origin, request, DefaultClientData).await;
        let asserted = asserted.map_err(|e| self.error(origin, e))?;
        serde_json::to_value(asserted).map_err(|e| CoreError::Storage(e.to_string()))
    }

    fn error(&self, origin: &Url, e: WebauthnError) -> CoreError {
        if let Some(inner) = self.store.take_error() {
            return inner;
        }
        let origin = origin.as_str().trim_end_matches('/').to_owned();
        match e {
            WebauthnError::OriginRpMissmatch
            | WebauthnError::RequiresRelatedOriginsSupport
            | WebauthnError::FetcherError
            | WebauthnError::RedirectError
            | WebauthnError::ExceedsMaxLabelLimit => CoreError::PasskeyWrongOrigin { origin, reason: "not_this_site" },
            WebauthnError::UnprotectedOrigin | WebauthnError::InsecureLocalhostNotAllowed => {
                CoreError::PasskeyWrongOrigin { origin, reason: "not_https" }
            }
            WebauthnError::OriginMissingDomain | WebauthnError::InvalidRpId => {
                CoreError::PasskeyWrongOrigin { origin, reason: "no_host_name" }
            }
            WebauthnError::CredentialNotFound => CoreError::PasskeyNotFound(origin),
            other => CoreError::PasskeyFailed(format!("{other:?}")),
        }
    }
}

/// The core's own origin rule, checked before the `passkey` client's: the origin's host is a
/// name (not an address), it is the relying party id or a sub-domain of it, and the scheme is
/// https, or http for `localhost` only. (`passkey-client` 0.6 lets any origin use the relying
/// party id `localhost` once insecure localhost is allowed; this check closes that.)
pub fn check_origin(origin: &Url, rp_id: Option<&str>) -> CoreResult<()> {
    let refuse = |reason| {
        Err(CoreError::PasskeyWrongOrigin { origin: origin.as_str().trim_end_matches('/').to_owned(), reason })
    };
    let Some(host) = origin.domain().map(str::to_ascii_lowercase) else { return refuse("no_host_name") };
    let rp_id = rp_id.map(str::to_ascii_lowercase).unwrap_or_else(|| host.clone());
    let covered = host == rp_id || host.ends_with(&format!(".{rp_id}"));
    if !covered {
        return refuse("not_this_site");
    }
    match origin.scheme() {
        "https" => Ok(()),
        "http" if host == "localhost" => Ok(()),
        _ => refuse("not_https"),
    }
}

/// `mediation` sits beside `publicKey` in a site's options; the client does not take it.
fn without_mediation(mut options: serde_json::Value) -> serde_json::Value {
    if let Some(map) = options.as_object_mut() {
        map.remove("mediation");
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryKeyStore;
    use serde_json::json;

    const SITE: &str = "https://inkan-shoken.co.jp";
    const RP: &str = "inkan-shoken.co.jp";

    fn creation(rp_id: &str) -> serde_json::Value {
        json!({"publicKey": {
            "rp": {"id": rp_id, "name": "いんかん証券"},
            "user": {"id": "FLjUz2unQrKHGllvthvh1Q", "name": "いんかん証券 ****0001", "displayName": "いんかん証券 ****0001"},
            "challenge": "nSANtu73sK8-_klb_v4jCVqMxZpYvRD958rQG1Wy82M",
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
            "timeout": 300000,
            "attestation": "none",
            "authenticatorSelection": {"residentKey": "required", "requireResidentKey": true, "userVerification": "required"},
            "extensions": {"credProps": true, "uvm": true, "credentialProtectionPolicy": "userVerificationRequired"}
        }})
    }

    fn request(rp_id: &str) -> serde_json::Value {
        json!({"publicKey": {
            "challenge": "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80",
            "timeout": 300000, "rpId": rp_id, "allowCredentials": [], "userVerification": "required"
        }, "mediation": "conditional"})
    }

    fn passkeys() -> (tempfile::TempDir, Arc<MemoryKeyStore>, Passkeys) {
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(MemoryKeyStore::new());
        let pk = Passkeys::new(PasskeyStore::new(dir.path(), keys.clone()));
        (dir, keys, pk)
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[tokio::test]
    async fn register_then_sign_on_the_real_origin_keeps_the_key_in_the_keychain_only() {
        let (dir, keys, pk) = passkeys();
        let created = pk.register(&url(SITE), creation(RP)).await.unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        assert!(created["response"]["attestationObject"].is_string(), "base64url strings, as sites expect");
        let stored = pk.store().list().unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!((stored[0].credential_id.as_str(), stored[0].rp_id.as_str()), (id.as_str(), RP));
        assert_eq!(keys.len(), 1, "the private key is in the key store");
        let file = std::fs::read_to_string(dir.path().join("passkeys.json")).unwrap();
        let secret = keys.get(&passkey_entry(&id)).unwrap().unwrap();
        assert!(!file.contains(&inkan_protocol::keys::b64(&secret)), "no key material in the profile");

        let first = pk.authenticate(&url(SITE), request(RP)).await.unwrap();
        assert_eq!(first["id"], id.as_str());
        let second = pk.authenticate(&url(SITE), request(RP)).await.unwrap();
        assert_ne!(
            first["response"]["authenticatorData"], second["response"]["authenticatorData"],
            "the counter moves"
        );
        assert_eq!(pk.store().list().unwrap()[0].counter, 2);
    }

    #[tokio::test]
    async fn look_alike_origins_get_nothing_signed() {
        let (_dir, _keys, pk) = passkeys();
        pk.register(&url(SITE), creation(RP)).await.unwrap();
        // The phishing page relays the real site's request (rp id of the real site).
        for origin in [
            "https://inkan-shokem.co.jp",           // one letter off
            "https://inkan-shoken.com",             // another TLD
            "https://inkan-shoken.co.jp.evil.test", // the real name as a sub-domain of another
            "http://inkan-shoken.co.jp",            // plain http
        ] {
            let e = pk.authenticate(&url(origin), request(RP)).await.unwrap_err();
            assert_eq!(e.code(), "passkey_wrong_origin", "{origin}: {e}");
            // Or it asks for its own rp id: no passkey was ever made for it.
            if let Some(host) = url(origin).host_str().filter(|_| origin.starts_with("https")) {
                let e = pk.authenticate(&url(origin), request(host)).await.unwrap_err();
                assert_eq!(e.code(), "passkey_not_found", "{origin}: {e}");
            }
        }
        // A sub-domain the relying party does not cover.
        let (_dir, _keys, narrow) = passkeys();
        narrow.register(&url("https://www.inkan-shoken.co.jp"), creation("www.inkan-shoken.co.jp")).await.unwrap();
        let e = narrow.authenticate(&url("https://evil.inkan-shoken.co.jp"), request("www.inkan-shoken.co.jp")).await;
        assert_eq!(e.unwrap_err().code(), "passkey_wrong_origin");
        // Registration from a look-alike for the real rp id is refused the same way.
        let e = pk.register(&url("https://inkan-shokem.co.jp"), creation(RP)).await.unwrap_err();
        assert_eq!(e.code(), "passkey_wrong_origin");
    }

    #[test]
    fn the_origin_rule() {
        let ok = |o: &str, rp: &str| check_origin(&url(o), Some(rp)).is_ok();
        assert!(ok(SITE, RP));
        assert!(ok("https://login.inkan-shoken.co.jp", RP), "a sub-domain of the relying party");
        assert!(ok("http://localhost:8400", "localhost"));
        assert!(!ok("https://evil.example", "localhost"), "anyone may not claim localhost");
        assert!(!ok("http://127.0.0.1:8400", "127.0.0.1"), "addresses are not relying parties");
        assert!(!ok("https://xinkan-shoken.co.jp", RP), "a suffix match must be at a dot");
        assert!(!ok("http://inkan-shoken.co.jp", RP));
        assert!(!ok("https://inkan-shoken.co.jp", "login.inkan-shoken.co.jp"));
    }

    #[tokio::test]
    async fn a_locked_keychain_is_reported_as_such() {
        let (_dir, keys, pk) = passkeys();
        keys.set_failing(true);
        let e = pk.register(&url(SITE), creation(RP)).await.unwrap_err();
        assert_eq!(e.code(), "keychain_locked");
        assert!(pk.store().list().unwrap().is_empty(), "nothing half-made");
    }

    #[tokio::test]
    async fn malformed_options_are_a_clear_error() {
        let (_dir, _keys, pk) = passkeys();
        let e = pk.register(&url(SITE), json!({"publicKey": {"rp": 3}})).await.unwrap_err();
        assert_eq!(e.code(), "bad_response");
    }
}
