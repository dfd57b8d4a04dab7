//! What an operator watches, in Prometheus text format at `GET /metrics`: challenges created,
//! settled by outcome (approved, denied, "not me", failed, expired, cancelled), the time from
//! creation to a device's decision, live device channels, open connections, requests refused
//! by the rate limits, and database errors (503s). Counters are plain atomics: recording costs
//! an increment on the hot path, rendering happens only when scraped.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use inkan_protocol::ChallengeState;

/// Upper bounds (seconds) of the decision-latency histogram's buckets.
pub const DECISION_BUCKETS: [i64; 8] = [1, 2, 5, 10, 20, 30, 60, 120];

/// Database errors that answered 503 (process-wide: recorded where the error is classified).
pub static DATABASE_UNAVAILABLE: AtomicU64 = AtomicU64::new(0);

const STATES: [ChallengeState; 6] = [
    ChallengeState::Approved,
    ChallengeState::Denied,
    ChallengeState::DeniedFraud,
    ChallengeState::Failed,
    ChallengeState::Expired,
    ChallengeState::Cancelled,
];

/// Why a request was refused by a limit, for `inkan_rate_limited_total{limit=…}`.
#[derive(Debug, Clone, Copy)]
pub enum Limited {
    Unauthenticated = 0,
    WrongApiKey = 1,
    Connections = 2,
    PasskeyCeremonies = 3,
}

const LIMITED_NAMES: [&str; 4] = ["unauthenticated", "wrong_api_key", "connections", "passkey_ceremonies"];

#[derive(Default)]
pub struct Metrics {
    created: AtomicU64,
    settled: [AtomicU64; 6],
    decision_buckets: [AtomicU64; DECISION_BUCKETS.len()],
    decision_count: AtomicU64,
    decision_sum_secs: AtomicU64,
    live_channels: AtomicU64,
    limited: [AtomicU64; 4],
    /// Relying-party events the webhook delivered (answered 2xx).
    pub webhook_delivered: AtomicU64,
    /// Webhook deliveries that failed (no answer, or not 2xx) and will be retried.
    pub webhook_failures: AtomicU64,
}

/// Holds one live channel in the gauge while it exists.
pub struct LiveChannel(std::sync::Arc<Metrics>);

impl Drop for LiveChannel {
    fn drop(&mut self) {
        self.0.live_channels.fetch_sub(1, Relaxed);
    }
}

impl Metrics {
    pub fn challenge_created(&self) {
        self.created.fetch_add(1, Relaxed);
    }

    pub fn challenge_settled(&self, state: ChallengeState) {
        if let Some(i) = STATES.iter().position(|s| *s == state) {
            self.settled[i].fetch_add(1, Relaxed);
        }
    }

    /// A device decided `secs` after the challenge was created.
    pub fn decided_after(&self, secs: i64) {
        let secs = secs.max(0);
        for (i, bound) in DECISION_BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.decision_buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.decision_count.fetch_add(1, Relaxed);
        self.decision_sum_secs.fetch_add(secs.unsigned_abs(), Relaxed);
    }

    pub fn live_channel(self: &std::sync::Arc<Self>) -> LiveChannel {
        self.live_channels.fetch_add(1, Relaxed);
        LiveChannel(self.clone())
    }

    pub fn limited(&self, why: Limited) {
        self.limited[why as usize].fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition (version 0.0.4), with the accept loop's figures.
    pub fn render(&self, connections: &crate::serve::ConnectionCounts) -> String {
        let open_connections = connections.total();
        let refused_connections = connections.refused.load(Relaxed);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP inkan_challenges_created_total Challenges created and pushed.\n# TYPE inkan_challenges_created_total counter\ninkan_challenges_created_total {}",
            self.created.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP inkan_challenges_settled_total Challenges settled, by outcome.\n# TYPE inkan_challenges_settled_total counter"
        );
        for (state, n) in STATES.iter().zip(&self.settled) {
            let _ =
                writeln!(out, "inkan_challenges_settled_total{{outcome=\"{}\"}} {}", state.as_str(), n.load(Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP inkan_decision_seconds Time from a challenge's creation to a device's decision.\n# TYPE inkan_decision_seconds histogram"
        );
        for (bound, n) in DECISION_BUCKETS.iter().zip(&self.decision_buckets) {
            let _ = writeln!(out, "inkan_decision_seconds_bucket{{le=\"{bound}\"}} {}", n.load(Relaxed));
        }
        let count = self.decision_count.load(Relaxed);
        let _ = writeln!(out, "inkan_decision_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "inkan_decision_seconds_sum {}", self.decision_sum_secs.load(Relaxed));
        let _ = writeln!(out, "inkan_decision_seconds_count {count}");
        let _ = writeln!(
            out,
            "# HELP inkan_live_channels Device live channels open now.\n# TYPE inkan_live_channels gauge\ninkan_live_channels {}",
            self.live_channels.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP inkan_open_connections HTTP connections open now.\n# TYPE inkan_open_connections gauge\ninkan_open_connections {open_connections}"
        );
        let _ = writeln!(
            out,
            "# HELP inkan_rate_limited_total Requests and connections refused by a per-client limit.\n# TYPE inkan_rate_limited_total counter"
        );
        for (name, n) in LIMITED_NAMES.iter().zip(&self.limited) {
            let n = if *name == "connections" { refused_connections } else { n.load(Relaxed) };
            let _ = writeln!(out, "inkan_rate_limited_total{{limit=\"{name}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP inkan_database_unavailable_total Requests answered 503 because the database could not be used.\n# TYPE inkan_database_unavailable_total counter\ninkan_database_unavailable_total {}",
            DATABASE_UNAVAILABLE.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP inkan_webhook_events_delivered_total Relying-party events the webhook delivered.\n# TYPE inkan_webhook_events_delivered_total counter\ninkan_webhook_events_delivered_total {}",
            self.webhook_delivered.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP inkan_webhook_failures_total Webhook deliveries that failed and are retried.\n# TYPE inkan_webhook_failures_total counter\ninkan_webhook_failures_total {}",
            self.webhook_failures.load(Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text_with_every_series() {
        let m = std::sync::Arc::new(Metrics::default());
        m.challenge_created();
        m.challenge_settled(ChallengeState::Approved);
        m.decided_after(3);
        let _live = m.live_channel();
        m.limited(Limited::WrongApiKey);
        let connections = std::sync::Arc::new(crate::serve::ConnectionCounts::default());
        let _slots: Vec<_> = (0..7).map(|_| connections.take([10, 0, 0, 1].into(), 0).unwrap()).collect();
        let text = m.render(&connections);
        for line in [
            "inkan_challenges_created_total 1",
            "inkan_challenges_settled_total{outcome=\"approved\"} 1",
            "inkan_challenges_settled_total{outcome=\"cancelled\"} 0",
            "inkan_decision_seconds_bucket{le=\"2\"} 0",
            "inkan_decision_seconds_bucket{le=\"5\"} 1",
            "inkan_decision_seconds_bucket{le=\"+Inf\"} 1",
            "inkan_decision_seconds_sum 3",
            "inkan_live_channels 1",
            "inkan_open_connections 7",
            "inkan_rate_limited_total{limit=\"wrong_api_key\"} 1",
            "inkan_webhook_events_delivered_total 0",
            "inkan_webhook_failures_total 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        drop(_live);
        assert!(m.render(&connections).contains("inkan_live_channels 0"));
    }
}
