//! Per-client request limits for the paths anyone can call before proving anything: device
//! nonces, enrollment and session opening, the site's login and passkey start, and wrong API
//! keys. A fixed window per client key (an IPv4 address, an IPv6 /64): at most `max` in each
//! window of `window_secs`, counted on the service clock (so tests hold time in hand).
//!
//! The table is bounded: past [`MAX_TRACKED_CLIENTS`] entries, windows that have ended are
//! dropped; if it is still full, an unknown client is refused rather than tracked (a flood of
//! addresses cannot grow memory without bound).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Client keys tracked at once, per limiter.
pub const MAX_TRACKED_CLIENTS: usize = 100_000;

/// The key a client is counted under: its address, an IPv6 one by its /64 (one subscriber's
/// network), an IPv4-mapped IPv6 address as the IPv4 address.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

pub struct RateLimiter {
    max: u32,
    window_secs: i64,
    windows: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

impl RateLimiter {
    pub fn new(max: u32, window_secs: i64) -> Self {
        RateLimiter { max, window_secs: window_secs.max(1), windows: Mutex::new(HashMap::new()) }
    }

    /// Counts one request from `ip` at `now`; `false` when it is over the limit (the request
    /// is refused and counts nothing more). Check and count are one step under the lock.
    pub fn allow(&self, ip: IpAddr, now: i64) -> bool {
        let key = client_key(ip);
        let mut windows = self.windows.lock().expect("rate limiter");
        if windows.len() >= MAX_TRACKED_CLIENTS && !windows.contains_key(&key) {
            let window = self.window_secs;
            windows.retain(|_, (start, _)| now < start.saturating_add(window));
            if windows.len() >= MAX_TRACKED_CLIENTS {
                return false;
            }
        }
        let entry = windows.entry(key).or_insert((now, 0));
        if now >= entry.0.saturating_add(self.window_secs) || now < entry.0 {
            *entry = (now, 0);
        }
        if entry.1 >= self.max {
            return false;
        }
        entry.1 += 1;
        true
    }

    /// Whether `ip` is over the limit now, without counting (for failures counted later).
    pub fn blocked(&self, ip: IpAddr, now: i64) -> bool {
        let windows = self.windows.lock().expect("rate limiter");
        windows
            .get(&client_key(ip))
            .is_some_and(|(start, n)| now < start.saturating_add(self.window_secs) && *n >= self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_share_per_window_and_others_are_unaffected() {
        let limiter = RateLimiter::new(3, 60);
        let a: IpAddr = "198.51.100.1".parse().unwrap();
        let b: IpAddr = "198.51.100.2".parse().unwrap();
        assert!((0..3).all(|_| limiter.allow(a, 1000)));
        assert!(!limiter.allow(a, 1000));
        assert!(limiter.blocked(a, 1059));
        assert!(limiter.allow(b, 1000), "another client");
        assert!(limiter.allow(a, 1060), "the next window");
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let limiter = RateLimiter::new(1, 60);
        assert!(limiter.allow("2001:db8:1:2::1".parse().unwrap(), 0));
        assert!(!limiter.allow("2001:db8:1:2:ffff::9".parse().unwrap(), 0), "same /64");
        assert!(limiter.allow("2001:db8:1:3::1".parse().unwrap(), 0), "another /64");
        assert!(limiter.allow("198.51.100.7".parse().unwrap(), 0));
        assert!(!limiter.allow("::ffff:198.51.100.7".parse().unwrap(), 0), "mapped v4 is the v4 address");
    }
}
