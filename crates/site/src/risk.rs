//! Risk-based authentication (リスクベース認証): which signals make a login risky, and what
//! the site shows about where a login comes from. Pure functions of their inputs.

use std::net::IpAddr;

use super::geo::Coords;

/// What the site knows about a login attempt when the password has been checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskSignals {
    /// The browser carries a known-browser cookie issued to this account at an earlier login.
    pub known_browser: bool,
    /// The account has logged in from this network (IPv4 /24, IPv6 /48) before.
    pub known_network: bool,
    /// Wrong passwords since the last successful login.
    pub recent_failures: u32,
    /// The address is in a country this customer has not logged in from (nor one of the
    /// deployment's home countries). Unknown countries do not count.
    pub new_country: bool,
    /// The address belongs to a hosting or data-centre network (a relay, a rented server).
    pub hosting_network: bool,
    /// Nobody could have travelled from the last login's place to this one in the time between.
    pub impossible_travel: bool,
}

/// Why a login was judged risky. Stable codes, written into the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskReason {
    UnknownBrowser,
    NewNetwork,
    RecentFailures,
    NewCountry,
    HostingNetwork,
    ImpossibleTravel,
}

impl RiskReason {
    pub fn code(self) -> &'static str {
        match self {
            RiskReason::UnknownBrowser => "unknown_browser",
            RiskReason::NewNetwork => "new_network",
            RiskReason::RecentFailures => "recent_failures",
            RiskReason::NewCountry => "new_country",
            RiskReason::HostingNetwork => "hosting_network",
            RiskReason::ImpossibleTravel => "impossible_travel",
        }
    }
}

/// The reasons a login is risky; empty means it is not.
pub fn assess(signals: RiskSignals) -> Vec<RiskReason> {
    let mut reasons = Vec::new();
    if !signals.known_browser {
        reasons.push(RiskReason::UnknownBrowser);
    }
    if !signals.known_network {
        reasons.push(RiskReason::NewNetwork);
    }
    if signals.recent_failures > 0 {
        reasons.push(RiskReason::RecentFailures);
    }
    if signals.new_country {
        reasons.push(RiskReason::NewCountry);
    }
    if signals.hosting_network {
        reasons.push(RiskReason::HostingNetwork);
    }
    if signals.impossible_travel {
        reasons.push(RiskReason::ImpossibleTravel);
    }
    reasons
}

/// Where and when a customer last logged in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LastLogin {
    pub at: i64,
    pub coords: Coords,
}

/// Whether going from `last` to `here` by `now` needs a speed over `max_kmh`
/// ([`crate::Limits::impossible_travel_kmh`]). Both places' accuracy radii are taken off the
/// distance first, and a distance left under `min_km`
/// ([`crate::Limits::impossible_travel_min_km`]) never counts: a GeoIP database is not
/// precise enough to tell a train ride from a jump between neighbouring cities.
pub fn impossible_travel(last: &LastLogin, here: &Coords, now: i64, max_kmh: u32, min_km: u32) -> bool {
    let distance = (last.coords.distance_km(here) - last.coords.accuracy_km - here.accuracy_km).max(0.0);
    if distance < f64::from(min_km) {
        return false;
    }
    #[allow(clippy::cast_precision_loss)] // seconds since the last login: far below 2^52
    let hours = (now - last.at).max(0) as f64 / 3600.0;
    distance > f64::from(max_kmh) * hours
}

/// The network an address belongs to, as the risk check remembers it: IPv4 /24, IPv6 /48.
pub fn network_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => network_of(IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
            }
        },
    }
}

/// "Chrome 131 / Windows": the browser family with its major version, and the OS, from a
/// User-Agent header. Unknown parts say so; nothing from the header is echoed unchecked.
pub fn browser_of(user_agent: &str) -> String {
    fn version_after(ua: &str, token: &str) -> Option<String> {
        let rest = &ua[ua.find(token)? + token.len()..];
        let major: String = rest.chars().take_while(char::is_ascii_digit).take(4).collect();
        (!major.is_empty()).then_some(major)
    }
    let family = [("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome")]
        .into_iter()
        .find_map(|(token, name)| version_after(user_agent, token).map(|v| format!("{name} {v}")))
        .or_else(|| {
            user_agent.contains("Safari/").then(|| match version_after(user_agent, "Version/") {
                Some(v) => format!("Safari {v}"),
                None => "Safari".to_owned(),
            })
        })
        .unwrap_or_else(|| "不明なブラウザ / Unknown browser".to_owned());
    let os = if user_agent.contains("Windows") {
        "Windows"
    } else if user_agent.contains("iPhone") || user_agent.contains("iPad") {
        "iOS"
    } else if user_agent.contains("Android") {
        "Android"
    } else if user_agent.contains("Mac OS X") {
        "macOS"
    } else if user_agent.contains("CrOS") {
        "ChromeOS"
    } else if user_agent.contains("Linux") {
        "Linux"
    } else {
        "不明な OS / Unknown OS"
    };
    format!("{family} / {os}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signal_alone_makes_a_login_risky() {
        let safe = RiskSignals {
            known_browser: true,
            known_network: true,
            recent_failures: 0,
            new_country: false,
            hosting_network: false,
            impossible_travel: false,
        };
        assert!(assess(safe).is_empty());
        assert_eq!(assess(RiskSignals { known_browser: false, ..safe }), vec![RiskReason::UnknownBrowser]);
        assert_eq!(assess(RiskSignals { known_network: false, ..safe }), vec![RiskReason::NewNetwork]);
        assert_eq!(assess(RiskSignals { recent_failures: 1, ..safe }), vec![RiskReason::RecentFailures]);
        assert_eq!(assess(RiskSignals { new_country: true, ..safe }), vec![RiskReason::NewCountry]);
        assert_eq!(assess(RiskSignals { hosting_network: true, ..safe }), vec![RiskReason::HostingNetwork]);
        assert_eq!(assess(RiskSignals { impossible_travel: true, ..safe }), vec![RiskReason::ImpossibleTravel]);
        let all = RiskSignals {
            known_browser: false,
            known_network: false,
            recent_failures: 3,
            new_country: true,
            hosting_network: true,
            impossible_travel: true,
        };
        assert_eq!(assess(all).len(), 6);
    }

    #[test]
    fn networks() {
        assert_eq!(network_of("203.0.113.77".parse().unwrap()), "203.0.113.0/24");
        assert_eq!(network_of("203.0.113.1".parse().unwrap()), network_of("203.0.113.250".parse().unwrap()));
        assert_ne!(network_of("203.0.113.1".parse().unwrap()), network_of("203.0.114.1".parse().unwrap()));
        assert_eq!(network_of("2001:db8:1234:5678::1".parse().unwrap()), "2001:db8:1234::/48");
        assert_eq!(network_of("::ffff:192.0.2.9".parse().unwrap()), "192.0.2.0/24");
    }

    #[test]
    fn browsers() {
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        assert_eq!(browser_of(chrome), "Chrome 131 / Windows");
        let edge = "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86";
        assert_eq!(browser_of(edge), "Edge 131 / Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
        assert_eq!(browser_of(safari), "Safari 18 / iOS");
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(browser_of(firefox), "Firefox 133 / Linux");
        assert_eq!(browser_of(""), "不明なブラウザ / Unknown browser / 不明な OS / Unknown OS");
        assert_eq!(browser_of("<script>Chrome/</script>"), "不明なブラウザ / Unknown browser / 不明な OS / Unknown OS");
    }

    /// Impossible travel at its threshold, with the clock in hand: each case is a last login,
    /// a new login some seconds later, and whether the check fires at 1,000 km/h with 500 km
    /// of slack. Coordinates are the ones the MaxMind test databases give these cities.
    #[test]
    fn impossible_travel_at_its_threshold() {
        const TOKYO: Coords = Coords { latitude: 35.68536, longitude: 139.75309, accuracy_km: 0.0 };
        const LONDON: Coords = Coords { latitude: 51.5142, longitude: -0.0931, accuracy_km: 0.0 };
        const CHANGCHUN: Coords = Coords { latitude: 43.88, longitude: 125.3228, accuracy_km: 0.0 };
        const HOUR: i64 = 3600;
        let tokyo_london = TOKYO.distance_km(&LONDON); // about 9,560 km
        #[allow(clippy::cast_possible_truncation)]
        let exact = (tokyo_london / 1000.0 * 3600.0) as i64; // seconds at exactly 1,000 km/h
        let vague = |c: Coords, km: f64| Coords { accuracy_km: km, ..c };
        let cases: &[(&str, Coords, Coords, i64, bool)] = &[
            ("Tokyo, then London an hour later", TOKYO, LONDON, HOUR, true),
            ("Tokyo, then London a second under the flight", TOKYO, LONDON, exact - 1, true),
            ("Tokyo, then London a second over the flight", TOKYO, LONDON, exact + 2, false),
            ("Tokyo, then London the next day", TOKYO, LONDON, 24 * HOUR, false),
            ("the same place at once", TOKYO, TOKYO, 0, false),
            ("Tokyo, then London in the same second", TOKYO, LONDON, 0, true),
            ("a clock that went backwards", TOKYO, LONDON, -HOUR, true),
            ("Tokyo, then Changchun (about 1,600 km) in an hour", TOKYO, CHANGCHUN, HOUR, true),
            ("Tokyo, then Changchun in two hours", TOKYO, CHANGCHUN, 2 * HOUR, false),
            ("under the slack once the radii are taken off", TOKYO, vague(CHANGCHUN, 1_200.0), 0, false),
            ("radii that still leave a long way", vague(TOKYO, 100.0), vague(LONDON, 100.0), HOUR, true),
        ];
        for (name, from, to, after, expected) in cases {
            let last = LastLogin { at: 1_000_000, coords: *from };
            assert_eq!(impossible_travel(&last, to, 1_000_000 + after, 1_000, 500), *expected, "{name}");
        }
        // The thresholds are the settings': a faster allowance or a wider slack turns it off.
        let last = LastLogin { at: 0, coords: TOKYO };
        assert!(!impossible_travel(&last, &LONDON, HOUR, 10_000, 500));
        assert!(!impossible_travel(&last, &LONDON, HOUR, 1_000, 10_000));
    }
}
