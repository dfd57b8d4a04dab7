//! The services as operating-system processes, for the tests and benchmarks that run the
//! binaries (several verifier instances, a load balancer, the database taken away).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The relying-party API key of `--dev` (public; never for production).
pub const DEV_API_KEY: &str = "insecure-dev-rp-api-key";

/// A child process killed (SIGKILL) when dropped.
pub struct Proc(pub Child);

impl Proc {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `inkan-server --dev … serve` on `port`, on `database_url`, named `public_origin` (the load
/// balancer's when there is one); `env` adds variables. Its log goes to `dir/<name>.log`.
pub fn verifier(
    bin: &Path,
    dir: &Path,
    name: &str,
    port: u16,
    public_origin: &str,
    database_url: &str,
    env: &[(&str, String)],
) -> Proc {
    let mut cmd = Command::new(bin);
    cmd.args(["--dev", "--data-dir"])
        .arg(dir.join(name))
        .args(["--database-url", database_url, "--public-origin", public_origin])
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("INKAN_LOG_FORMAT", "text")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Proc(cmd.spawn().expect("inkan-server starts"))
}

/// The HAProxy configuration the multi-instance tests run (and the README shows): round robin
/// over `ports`, no stickiness, health checked on `/readyz`, a failed connection retried on
/// another instance, timeouts long enough for long polls and live channels, and
/// `http-no-delay`: without it HAProxy holds back the live channel's small writes and every
/// push arrives about 200 ms late.
pub fn haproxy_config(lb: u16, ports: &[u16]) -> String {
    let servers: String = ports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("    server v{i} 127.0.0.1:{p} check inter 300ms fall 1 rise 1\n"))
        .collect();
    format!(
        "global\n    maxconn 4000\n\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 120s\n    timeout server 120s\n    timeout tunnel 120s\n    retries 3\n    option redispatch\n    option http-no-delay\n\n\
         frontend inkan\n    bind 127.0.0.1:{lb}\n    maxconn 4000\n    default_backend verifiers\n\n\
         backend verifiers\n    balance roundrobin\n    option httpchk GET /readyz\n{servers}"
    )
}

/// HAProxy in the foreground on `lb`, in front of `ports`.
pub fn haproxy(dir: &Path, lb: u16, ports: &[u16]) -> Proc {
    let file = dir.join("haproxy.cfg");
    std::fs::write(&file, haproxy_config(lb, ports)).unwrap();
    let child = Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("haproxy.log")).unwrap())
        .spawn()
        .expect("haproxy starts (apt install haproxy)");
    Proc(child)
}

/// Waits until `port` answers `/readyz` with 200.
pub async fn ready(http: &reqwest::Client, port: u16) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(format!("http://127.0.0.1:{port}/readyz")).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "nothing ready on port {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One series of `/metrics` on `port`.
pub async fn metric(http: &reqwest::Client, port: u16, name: &str) -> u64 {
    let text = http.get(format!("http://127.0.0.1:{port}/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .parse()
        .unwrap()
}

/// A process's resident set size, in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A relying-party POST of `body` to `path` on `port` with the `--dev` API key: the 2xx answer's
/// JSON (any other status fails the caller).
pub async fn rp_post<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    port: u16,
    path: &str,
    body: &serde_json::Value,
) -> T {
    let resp = http.post(format!("http://127.0.0.1:{port}{path}")).bearer_auth(DEV_API_KEY).json(body).send().await;
    resp.unwrap().error_for_status().unwrap().json().await.unwrap()
}

/// A relying-party GET of `path` on `port` with the `--dev` API key: the 2xx answer's JSON.
pub async fn rp_get<T: serde::de::DeserializeOwned>(http: &reqwest::Client, port: u16, path: &str) -> T {
    let resp = http.get(format!("http://127.0.0.1:{port}{path}")).bearer_auth(DEV_API_KEY).send().await;
    resp.unwrap().error_for_status().unwrap().json().await.unwrap()
}
