-- The demo site's side of the webhook: the events it has processed (each once, whatever
-- number of times it arrives) and the delivery ids it has accepted (a replayed delivery is
-- refused). Written in the transaction that acts on the event.
CREATE TABLE site_rp_events (
    event_id     TEXT PRIMARY KEY,
    processed_at INTEGER NOT NULL
);

CREATE TABLE site_webhook_deliveries (
    delivery_id TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL
);
CREATE INDEX site_webhook_deliveries_at ON site_webhook_deliveries (received_at);
