//! The store's own guards: the append-only audit log and the purge of spent credentials.

use inkan_server::store::{AuditEvent, Store};

#[tokio::test]
async fn audit_log_is_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.sqlite3").display());
    let store = Store::open(&url).await.unwrap();
    store.audit(1, AuditEvent::LoginReported, Some("a"), None, None, serde_json::json!({})).await.unwrap();
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

/// Old relying-party events go: with a webhook, only once it has delivered them; without one
/// (pull only), by age alone, so the table does not grow without end.
#[tokio::test]
async fn old_events_are_purged_once_delivered_or_by_age_without_a_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("e.sqlite3").display());
    let store = Store::open(&url).await.unwrap();
    for at in [100, 150, 300] {
        let data = inkan_protocol::RpEventData::DeviceRevoked { device_id: "d".into(), name: "n".into() };
        inkan_server::store::EventEntry { at, account_id: "a", data }.write(store.pool()).await.unwrap();
    }
    assert_eq!(store.purge_events(200, true).await.unwrap(), 0, "undelivered events stay while a webhook waits");
    store.advance_webhook_cursor(1).await.unwrap();
    assert_eq!(store.purge_events(200, true).await.unwrap(), 1, "the delivered old one goes");
    assert_eq!(store.purge_events(200, false).await.unwrap(), 1, "without a webhook, age alone decides");
    assert_eq!(store.purge_events(200, false).await.unwrap(), 0, "the recent one stays");
}
