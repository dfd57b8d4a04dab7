//! Where an address is: the place shown to the customer, its country, coordinates and network
//! (autonomous system), read from MaxMind DB files (`.mmdb`: GeoIP2 / GeoLite2 City and ASN,
//! or DB-IP's files in the same format) that the operator configures. No database means
//! "unknown", said once at start ([`Geo::open`]) and shown as 「不明」 / "Unknown".
//!
//! The place is a prefecture (and city, where the database has one) in Japan and a country
//! abroad, in Japanese and in English; each page and mail section picks its language. The
//! device's signed display text carries both halves (`日本語 / English`), because the signed
//! bytes cannot depend on the language the app happens to show; the app shows its half.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;

use maxminddb::{Reader, geoip2};

use super::i18n::Lang;

/// The country the brokerage's customers live in: places in it are named by prefecture.
pub const HOME_COUNTRY: &str = "JP";

/// Hosting and data-centre networks, by autonomous system number: a login from one of these
/// is a relay or a rented server, not a customer's home or phone. The default of
/// [`GeoSettings::hosting_asns`]; an operator replaces it (`INKAN_HOSTING_ASNS`).
pub const DEFAULT_HOSTING_ASNS: &[u32] = &[
    16509, 14618, // Amazon Web Services
    15169, 396982, // Google, Google Cloud
    8075,   // Microsoft Azure
    31898,  // Oracle Cloud
    45102,  // Alibaba Cloud
    132203, 45090,  // Tencent Cloud
    14061,  // DigitalOcean
    16276,  // OVHcloud
    24940,  // Hetzner
    63949,  // Akamai Connected Cloud (Linode)
    20473,  // Vultr (Choopa)
    51167,  // Contabo
    9009,   // M247
    60068,  // Datacamp (CDN77)
    212238, // Datacamp
    9370, 7684,   // さくらインターネット / SAKURA internet
    4694,   // IDC フロンティア / IDC Frontier
    131965, // ConoHa (GMO Internet)
];

/// Where the databases are and what the risk check treats as hosting and as home.
#[derive(Debug, Clone)]
pub struct GeoSettings {
    /// A City (or Country) database: place names, country, coordinates.
    pub city_db: Option<PathBuf>,
    /// An ASN database: the network's autonomous system.
    pub asn_db: Option<PathBuf>,
    /// Autonomous systems counted as hosting or data-centre networks.
    pub hosting_asns: BTreeSet<u32>,
    /// Countries (ISO 3166 alpha-2) every customer is assumed to use before their first login.
    pub home_countries: BTreeSet<String>,
}

impl Default for GeoSettings {
    fn default() -> Self {
        GeoSettings {
            city_db: None,
            asn_db: None,
            hosting_asns: DEFAULT_HOSTING_ASNS.iter().copied().collect(),
            home_countries: [HOME_COUNTRY.to_owned()].into(),
        }
    }
}

impl GeoSettings {
    /// `"16509,14618"`: a comma-separated list of AS numbers (an optional `AS` prefix each).
    pub fn parse_asns(text: &str) -> anyhow::Result<BTreeSet<u32>> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                let digits = s.strip_prefix("AS").or_else(|| s.strip_prefix("as")).unwrap_or(s);
                digits.parse::<u32>().map_err(|_| anyhow::anyhow!("not an AS number: {s:?}"))
            })
            .collect()
    }

    /// `"JP,US"`: a comma-separated list of two-letter country codes.
    pub fn parse_countries(text: &str) -> anyhow::Result<BTreeSet<String>> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                anyhow::ensure!(
                    s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()),
                    "not a country code: {s:?}"
                );
                Ok(s.to_ascii_uppercase())
            })
            .collect()
    }
}

/// A place in both languages (`{"ja": …, "en": …}` in audit details).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Place {
    pub ja: String,
    pub en: String,
}

impl Place {
    fn fixed(ja: &str, en: &str) -> Place {
        Place { ja: ja.to_owned(), en: en.to_owned() }
    }

    pub fn unknown() -> Place {
        Place::fixed("不明", "Unknown")
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ja => &self.ja,
            Lang::En => &self.en,
        }
    }

    /// `日本語 / English`, for the device's signed display text.
    pub fn both(&self) -> String {
        if self.ja == self.en { self.ja.clone() } else { format!("{} / {}", self.ja, self.en) }
    }
}

/// A point on the earth and how far off it may be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coords {
    pub latitude: f64,
    pub longitude: f64,
    /// The database's accuracy radius, in kilometres.
    pub accuracy_km: f64,
}

impl Coords {
    /// Great-circle distance in kilometres (haversine, mean earth radius).
    pub fn distance_km(&self, other: &Coords) -> f64 {
        const EARTH_RADIUS_KM: f64 = 6371.0;
        let (la1, la2) = (self.latitude.to_radians(), other.latitude.to_radians());
        let dla = la2 - la1;
        let dlo = (other.longitude - self.longitude).to_radians();
        let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
    }
}

/// What the databases say about one address.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub place: Place,
    /// ISO 3166 alpha-2, upper case; `None` where the database does not know.
    pub country: Option<String>,
    pub coords: Option<Coords>,
    pub asn: Option<u32>,
    /// The network is one of [`GeoSettings::hosting_asns`].
    pub hosting: bool,
}

impl Located {
    fn fixed(place: Place) -> Located {
        Located { place, country: None, coords: None, asn: None, hosting: false }
    }
}

/// The open databases.
pub struct Geo {
    city: Option<Reader<Vec<u8>>>,
    asn: Option<Reader<Vec<u8>>>,
    settings: GeoSettings,
}

impl std::fmt::Debug for Geo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Geo")
            .field("city", &self.city.as_ref().map(|r| r.metadata().database_type.clone()))
            .field("asn", &self.asn.as_ref().map(|r| r.metadata().database_type.clone()))
            .finish()
    }
}

impl Geo {
    /// Opens the configured databases (a file that does not open is an error: the operator
    /// asked for it) and logs once what the place and network checks will rest on.
    pub fn open(settings: &GeoSettings) -> anyhow::Result<Geo> {
        let open = |path: &Option<PathBuf>, what: &str| -> anyhow::Result<Option<Reader<Vec<u8>>>> {
            let Some(path) = path else { return Ok(None) };
            let reader = Reader::open_readfile(path).map_err(|e| {
                anyhow::anyhow!(
                    "{what} データベース {} を開けません / cannot open the {what} database: {e}",
                    path.display()
                )
            })?;
            tracing::info!(path = %path.display(), kind = %reader.metadata().database_type, built = reader.metadata().build_epoch, "GeoIP {what} database open");
            Ok(Some(reader))
        };
        let geo = Geo {
            city: open(&settings.city_db, "City")?,
            asn: open(&settings.asn_db, "ASN")?,
            settings: settings.clone(),
        };
        if geo.city.is_none() {
            tracing::warn!(
                "no GeoIP City database configured (INKAN_GEOIP_CITY_DB): every place is shown as unknown, and the new-country and impossible-travel checks are off"
            );
        }
        if geo.asn.is_none() {
            tracing::warn!("no GeoIP ASN database configured (INKAN_GEOIP_ASN_DB): the hosting-network check is off");
        }
        Ok(geo)
    }

    /// No databases: every public address is unknown.
    pub fn none() -> Geo {
        Geo { city: None, asn: None, settings: GeoSettings::default() }
    }

    pub fn settings(&self) -> &GeoSettings {
        &self.settings
    }

    pub fn locate(&self, ip: IpAddr) -> Located {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if ip.is_loopback() {
            return Located::fixed(Place::fixed("このコンピューター", "This computer"));
        }
        if is_private(ip) {
            return Located::fixed(Place::fixed("社内ネットワーク", "Private network"));
        }
        let mut found = Located::fixed(Place::unknown());
        if let Some(city) = &self.city {
            match city.lookup(ip).and_then(|r| r.decode::<geoip2::City>()) {
                Ok(Some(rec)) => {
                    found.country = rec.country.iso_code.map(str::to_ascii_uppercase);
                    found.place = place_of(&rec);
                    if let (Some(latitude), Some(longitude)) = (rec.location.latitude, rec.location.longitude) {
                        let accuracy_km = f64::from(rec.location.accuracy_radius.unwrap_or(0));
                        found.coords = Some(Coords { latitude, longitude, accuracy_km });
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "GeoIP City lookup failed"),
            }
        }
        if let Some(asn) = &self.asn {
            match asn.lookup(ip).and_then(|r| r.decode::<geoip2::Asn>()) {
                Ok(Some(rec)) => found.asn = rec.autonomous_system_number,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "GeoIP ASN lookup failed"),
            }
        }
        found.hosting = found.asn.is_some_and(|n| self.settings.hosting_asns.contains(&n));
        found
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_link_local() || v4.is_unspecified(),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80 || v6.is_unspecified()
        }
    }
}

/// In Japan: the prefecture, then the city where known (東京都 千代田区 / Chiyoda, Tokyo), or
/// 日本 / Japan. Abroad: the country (イギリス / United Kingdom). A name the database lacks
/// in Japanese falls back to its English one.
fn place_of(rec: &geoip2::City<'_>) -> Place {
    fn pick<'a>(names: &geoip2::Names<'a>, lang: Lang) -> Option<&'a str> {
        match lang {
            Lang::Ja => names.japanese.or(names.english),
            Lang::En => names.english,
        }
    }
    let country = |lang| pick(&rec.country.names, lang).map(str::to_owned);
    let (Some(ja), Some(en)) = (country(Lang::Ja), country(Lang::En)) else { return Place::unknown() };
    if rec.country.iso_code != Some(HOME_COUNTRY) {
        return Place { ja, en };
    }
    let region = rec.subdivisions.first().map(|s| &s.names);
    let city = &rec.city.names;
    let ja_parts: Vec<&str> =
        [region.and_then(|n| pick(n, Lang::Ja)), pick(city, Lang::Ja)].into_iter().flatten().collect();
    let en_parts: Vec<&str> =
        [pick(city, Lang::En), region.and_then(|n| pick(n, Lang::En))].into_iter().flatten().collect();
    if ja_parts.is_empty() || en_parts.is_empty() {
        return Place { ja, en };
    }
    Place { ja: ja_parts.join(" "), en: en_parts.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_refuse_junk() {
        assert_eq!(GeoSettings::parse_asns("16509, AS14618,,").unwrap(), [14618, 16509].into());
        assert!(GeoSettings::parse_asns("AWS").is_err());
        assert_eq!(GeoSettings::parse_countries("jp, US").unwrap(), ["JP".to_owned(), "US".to_owned()].into());
        assert!(GeoSettings::parse_countries("JPN").is_err());
    }

    #[test]
    fn fixed_places_need_no_database() {
        let geo = Geo::none();
        assert_eq!(geo.locate("127.0.0.1".parse().unwrap()).place.both(), "このコンピューター / This computer");
        assert_eq!(geo.locate("::1".parse().unwrap()).place.ja, "このコンピューター");
        assert_eq!(geo.locate("10.1.2.3".parse().unwrap()).place.en, "Private network");
        assert_eq!(geo.locate("fd00::1".parse().unwrap()).place.en, "Private network");
        let unknown = geo.locate("81.2.69.142".parse().unwrap());
        assert_eq!(unknown.place.both(), "不明 / Unknown");
        assert_eq!((unknown.country, unknown.asn, unknown.hosting), (None, None, false));
    }

    #[test]
    fn distances() {
        let tokyo = Coords { latitude: 35.68536, longitude: 139.75309, accuracy_km: 0.0 };
        let london = Coords { latitude: 51.5142, longitude: -0.0931, accuracy_km: 0.0 };
        let d = tokyo.distance_km(&london);
        assert!((9500.0..9620.0).contains(&d), "{d}");
        assert!(tokyo.distance_km(&tokyo) < 1e-6);
    }
}
