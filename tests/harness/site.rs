//! A visitor of the demo site: an HTTP client that keeps its cookies, follows redirects by
//! hand (so cookies set on a redirect are kept), and fills in the form's CSRF token.

use std::collections::HashMap;

/// The passwords [`crate::TestServer::customer`] gives its customers.
pub const PASSWORD: &str = "Kabu-2026-ok";
pub const WITHDRAWAL_PASSWORD: &str = "Shukkin-2026";

/// A browser-like User-Agent for the site's "browser / OS" line.
pub const CHROME_UA: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

pub struct Visitor {
    http: reqwest::Client,
    pub origin: String,
    pub cookies: HashMap<String, String>,
    /// Sent as `X-Forwarded-For`: where the visitor seems to come from.
    pub from_ip: String,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// The page's text without tags, for `contains` checks.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for c in self.body.chars() {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    out.push(' ');
                }
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The value of the first `attr="…"` in the page.
    pub fn attr(&self, attr: &str) -> Option<String> {
        let key = format!("{attr}=\"");
        let at = self.body.find(&key)? + key.len();
        Some(self.body[at..at + self.body[at..].find('"')?].to_owned())
    }
}

impl Visitor {
    pub fn new(origin: &str, from_ip: &str) -> Visitor {
        Visitor {
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            origin: origin.to_owned(),
            cookies: HashMap::new(),
            from_ip: from_ip.to_owned(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let resp = req
            .header("cookie", self.cookie_header())
            .header("user-agent", CHROME_UA)
            .header("x-forwarded-for", &self.from_ip)
            .send()
            .await
            .expect("site request");
        for v in resp.headers().get_all("set-cookie") {
            let text = v.to_str().unwrap();
            let (pair, attrs) = text.split_once(';').unwrap_or((text, ""));
            let (k, val) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), val.to_owned());
            }
        }
        let status = resp.status().as_u16();
        let location = resp.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        Page { status, location, body: resp.text().await.unwrap() }
    }

    /// GET without following redirects.
    pub async fn get_once(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.origin));
        self.send(req).await
    }

    /// GET, following redirects.
    pub async fn get(&mut self, path: &str) -> Page {
        let page = self.get_once(path).await;
        self.follow(page).await
    }

    pub async fn follow(&mut self, mut page: Page) -> Page {
        for _ in 0..10 {
            match page.location.clone() {
                Some(to) if (300..400).contains(&page.status) => page = self.get_once(&to).await,
                _ => return page,
            }
        }
        panic!("redirect loop")
    }

    /// The CSRF token the site gave this visitor (visits `/login` first if it has none).
    pub async fn csrf(&mut self) -> String {
        if !self.cookies.contains_key("inkan_csrf") {
            self.get_once("/login").await;
        }
        self.cookies["inkan_csrf"].clone()
    }

    /// POSTs a form with the CSRF token added, without following redirects.
    pub async fn post_once(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf().await;
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &form_body(&all), None).await
    }

    /// POSTs a form with the CSRF token added, following redirects.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.post_once(path, fields).await;
        self.follow(page).await
    }

    /// POSTs an exact body, optionally with an `Origin` header.
    pub async fn post_raw(&mut self, path: &str, body: &str, origin: Option<&str>) -> Page {
        let mut req = self
            .http
            .post(format!("{}{path}", self.origin))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned());
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        self.send(req).await
    }

    /// Password step; returns the page after redirects.
    pub async fn login_password(&mut self, account: &str, password: &str) -> Page {
        self.post("/login", &[("account", account), ("password", password)]).await
    }
}

pub fn form_body(fields: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            s.push('&');
        }
        s.push_str(&url_encode(k));
        s.push('=');
        s.push_str(&url_encode(v));
    }
    s
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
