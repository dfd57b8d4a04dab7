//! The served OpenAPI document describes the router that is actually running: every path and
//! method in it is routed (no 404 / 405), and unknown paths are not.

use std::sync::Arc;

use inkan_server::{ManualClock, Settings};

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("o.sqlite3").display());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let server = inkan_server::start(Settings::for_tests(&origin, &url), Arc::new(ManualClock::new(0)), Some(listener))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let doc: serde_json::Value =
        http.get(format!("{origin}/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 19, "{} paths", paths.len());
    let mut checked = 0;
    for (path, ops) in paths {
        let concrete = path.replace("{id}", "x").replace("{account}", "a").replace("{device}", "d");
        for method in ops.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut req = http.request(method.clone(), format!("{origin}{concrete}"));
            if path == "/v1/rp/challenges/{id}/wait" {
                req = req.query(&[("timeout", "0")]);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let routed_error = serde_json::from_str::<inkan_protocol::ErrorBody>(&resp.text().await.unwrap()).is_ok();
            // Unauthenticated or malformed requests are refused with a JSON error body; a path
            // with no route gets the router's bare 404, and a path without the method a 405.
            assert_ne!(status, 405, "{method} {path} is documented but its method is not routed");
            assert!(status != 404 || routed_error, "{method} {path} is documented but not routed");
            checked += 1;
        }
    }
    assert!(checked >= 19);
    let unknown = http.get(format!("{origin}/v1/no-such-thing")).send().await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    assert!(serde_json::from_str::<inkan_protocol::ErrorBody>(&unknown.text().await.unwrap()).is_err());
    server.stop().await;
}
