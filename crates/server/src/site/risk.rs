//! Risk-based authentication (リスクベース認証): which signals make a login risky, and what
//! the site shows about where a login comes from. Pure functions of their inputs.

use std::net::IpAddr;

/// What the site knows about a login attempt when the password has been checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskSignals {
    /// The browser carries a known-browser cookie issued to this account at an earlier login.
    pub known_browser: bool,
    /// The account has logged in from this network (IPv4 /24, IPv6 /48) before.
    pub known_network: bool,
    /// Wrong passwords since the last successful login.
    pub recent_failures: u32,
}

/// Why a login was judged risky. Stable codes, written into the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskReason {
    UnknownBrowser,
    NewNetwork,
    RecentFailures,
}

impl RiskReason {
    pub fn code(self) -> &'static str {
        match self {
            RiskReason::UnknownBrowser => "unknown_browser",
            RiskReason::NewNetwork => "new_network",
            RiskReason::RecentFailures => "recent_failures",
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
    reasons
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

/// An approximate place for an address, in Japanese and English. The demo carries no GeoIP
/// database: it names loopback, private and documentation ranges, and says "unknown" otherwise.
pub fn place_of(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(v4) if v4.is_loopback() => "このコンピューター / This computer",
        IpAddr::V4(v4) if v4.is_private() => "社内ネットワーク / Private network",
        IpAddr::V4(v4) if v4.octets()[..3] == [203, 0, 113] => "東京都 (デモ) / Tokyo (demo)",
        IpAddr::V4(v4) if v4.octets()[..3] == [198, 51, 100] => "大阪府 (デモ) / Osaka (demo)",
        IpAddr::V4(v4) if v4.octets()[..3] == [192, 0, 2] => "海外 (デモ) / Abroad (demo)",
        IpAddr::V6(v6) if v6.is_loopback() => "このコンピューター / This computer",
        _ => "不明 / Unknown",
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
        let safe = RiskSignals { known_browser: true, known_network: true, recent_failures: 0 };
        assert!(assess(safe).is_empty());
        assert_eq!(assess(RiskSignals { known_browser: false, ..safe }), vec![RiskReason::UnknownBrowser]);
        assert_eq!(assess(RiskSignals { known_network: false, ..safe }), vec![RiskReason::NewNetwork]);
        assert_eq!(assess(RiskSignals { recent_failures: 1, ..safe }), vec![RiskReason::RecentFailures]);
        assert_eq!(assess(RiskSignals { known_browser: false, known_network: false, recent_failures: 3 }).len(), 3);
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

    #[test]
    fn places() {
        assert_eq!(place_of("127.0.0.1".parse().unwrap()), "このコンピューター / This computer");
        assert_eq!(place_of("203.0.113.5".parse().unwrap()), "東京都 (デモ) / Tokyo (demo)");
        assert_eq!(place_of("8.8.8.8".parse().unwrap()), "不明 / Unknown");
    }
}
