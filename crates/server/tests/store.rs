//! The store's own guards: the append-only audit log and the purge of spent credentials.

use inkan_server::store::Store;

#[tokio::test]
async fn audit_log_is_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.sqlite3").display());
    let store = Store::open(&url).await.unwrap();
    store.audit(1, "test_event", Some("a"), None, None, serde_json::json!({})).await.unwrap();
    let update = sqlx::query("UPDATE audit_events SET event = 'rewritten'").execute(store.pool()).await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = sqlx::query("DELETE FROM audit_events").execute(store.pool()).await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    assert_eq!(store.audit_for_account("a", 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn spent_nonces_and_expired_sessions_are_purged() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.sqlite3").display());
    let store = Store::open(&url).await.unwrap();
    store.insert_nonce("old", 100).await.unwrap();
    store.insert_nonce("fresh", 300).await.unwrap();
    store.insert_session(b"old-token-hash", "d", 100).await.unwrap();
    store.insert_session(b"fresh-token-hash", "d", 300).await.unwrap();
    assert_eq!(store.purge_expired(200).await.unwrap(), (1, 1));
    assert_eq!(store.take_nonce("old").await.unwrap(), None);
    assert_eq!(store.take_nonce("fresh").await.unwrap(), Some(300));
    assert!(store.session(b"old-token-hash").await.unwrap().is_none());
    assert!(store.session(b"fresh-token-hash").await.unwrap().is_some());
}
