//! OS notifications of new requests, straight to the freedesktop notification service on the
//! session bus: a click comes back as the notification's default action (the resident process
//! opens the window onto its request), and a notification is withdrawn as soon as its request
//! leaves the inbox (decided here or elsewhere, expired, withdrawn by the brokerage).
//!
//! What a notification says: what is asked and by whom, never a number to type (the device
//! never knows it) or anything secret. While the platform says the screen is locked
//! (`org.freedesktop.ScreenSaver.GetActive`), it names only the kind of request and the
//! brokerage: no amount, destination or address on a locked screen.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use inkan_protocol::ChallengeDetails;
use tokio::sync::{OnceCell, mpsc};
use zbus::zvariant::Value;

use crate::settings::Language;

/// How long the notifier waits for the screen-lock answer before taking the screen as unlocked.
pub const SCREEN_LOCK_QUERY: Duration = Duration::from_millis(200);
/// The default action: the notification's body was clicked.
const DEFAULT_ACTION: &str = "default";

#[zbus::proxy(
    interface = "org.freedesktop.Notifications",
    default_service = "org.freedesktop.Notifications",
    default_path = "/org/freedesktop/Notifications"
)]
trait Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: &str,
        replaces_id: u32,
        app_icon: &str,
        summary: &str,
        body: &str,
        actions: &[&str],
        hints: HashMap<&str, Value<'_>>,
        expire_timeout: i32,
    ) -> zbus::Result<u32>;
    fn close_notification(&self, id: u32) -> zbus::Result<()>;
    #[zbus(signal)]
    fn action_invoked(&self, id: u32, action_key: String) -> zbus::Result<()>;
    #[zbus(signal)]
    fn notification_closed(&self, id: u32, reason: u32) -> zbus::Result<()>;
}

#[zbus::proxy(
    interface = "org.freedesktop.ScreenSaver",
    default_service = "org.freedesktop.ScreenSaver",
    default_path = "/org/freedesktop/ScreenSaver"
)]
trait ScreenSaver {
    fn get_active(&self) -> zbus::Result<bool>;
}

/// One request to show: what it is and who asks.
pub struct Shown<'a> {
    pub challenge_id: &'a str,
    pub details: &'a ChallengeDetails,
    pub asker: &'a str,
}

/// The session bus's notification service, and which notification shows which request.
pub struct Notifier {
    conn: zbus::Connection,
    bus: OnceCell<Option<NotificationsProxy<'static>>>,
    /// Notification id -> challenge id (shared with the task that follows clicks).
    shown: Arc<Mutex<HashMap<u32, String>>>,
    /// Where clicks go: the challenge id of the clicked notification.
    clicks: mpsc::UnboundedSender<String>,
}

impl Notifier {
    /// A notifier on `conn`; the challenge ids of clicked notifications arrive on `clicks`.
    pub fn new(conn: zbus::Connection, clicks: mpsc::UnboundedSender<String>) -> Self {
        Notifier { conn, bus: OnceCell::new(), shown: Arc::default(), clicks }
    }

    /// The notification service, reached once (`None` for good when there is none: the app
    /// works without notifications).
    async fn bus(&self) -> Option<&NotificationsProxy<'static>> {
        self.bus
            .get_or_init(|| async {
                match NotificationsProxy::new(&self.conn).await {
                    Ok(p) => {
                        self.listen(p.clone());
                        Some(p)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "no notification service on the session bus");
                        None
                    }
                }
            })
            .await
            .as_ref()
    }

    /// Shows a new request; true once the service has taken it.
    pub async fn show(&self, request: Shown<'_>, lang: Language) -> bool {
        let Some(bus) = self.bus().await else { return false };
        let locked = self.screen_locked().await;
        let (summary, body) = crate::text::notification(request.details, request.asker, lang, locked);
        let open = crate::text::notification_open(lang);
        let hints = HashMap::from([
            ("category", Value::from("x-inkan.approval")),
            ("desktop-entry", Value::from("inkan")),
            // Normal urgency: the request expires on its own; the window says how soon.
            ("urgency", Value::U8(1)),
        ]);
        match bus.notify("Inkan", 0, "dialog-password", &summary, &body, &[DEFAULT_ACTION, open], hints, -1).await {
            Ok(id) => {
                self.shown.lock().expect("shown").insert(id, request.challenge_id.to_owned());
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "the OS notification could not be shown");
                false
            }
        }
    }

    /// Withdraws the notifications of requests that are no longer waiting.
    pub async fn keep_only(&self, waiting: &[String]) {
        let gone: Vec<u32> = {
            let mut shown = self.shown.lock().expect("shown");
            let gone: Vec<u32> = shown.iter().filter(|(_, c)| !waiting.contains(c)).map(|(id, _)| *id).collect();
            gone.iter().for_each(|id| {
                shown.remove(id);
            });
            gone
        };
        let Some(Some(bus)) = self.bus.get() else { return };
        for id in gone {
            if let Err(e) = bus.close_notification(id).await {
                tracing::debug!(error = %e, id, "notification already gone");
            }
        }
    }

    /// Whether the platform says the screen is locked; no answer in time means no.
    async fn screen_locked(&self) -> bool {
        let ask = async { ScreenSaverProxy::new(&self.conn).await?.get_active().await };
        matches!(tokio::time::timeout(SCREEN_LOCK_QUERY, ask).await, Ok(Ok(true)))
    }

    /// Follows clicks (their request's id goes to `clicks`) and closings (forgotten).
    fn listen(&self, proxy: NotificationsProxy<'static>) {
        let (clicks, shown) = (self.clicks.clone(), self.shown.clone());
        tokio::spawn(async move {
            let (Ok(mut actions), Ok(mut closed)) =
                (proxy.receive_action_invoked().await, proxy.receive_notification_closed().await)
            else {
                tracing::warn!("notification clicks cannot be followed");
                return;
            };
            loop {
                tokio::select! {
                    Some(s) = actions.next() => {
                        let Ok(a) = s.args() else { continue };
                        if a.action_key != DEFAULT_ACTION {
                            continue;
                        }
                        let challenge = shown.lock().expect("shown").remove(&a.id);
                        if let Some(challenge) = challenge
                            && clicks.send(challenge).is_err()
                        {
                            return;
                        }
                    }
                    Some(s) = closed.next() => {
                        if let Ok(a) = s.args() {
                            shown.lock().expect("shown").remove(&a.id);
                        }
                    }
                    else => return,
                }
            }
        });
    }
}
