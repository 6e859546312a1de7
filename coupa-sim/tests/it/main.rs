//! The simulator exercised with plain reqwest and JSON, not through coupa-client.

#![allow(missing_docs, unreachable_pub)]

mod faults;
mod reads;
mod writes;

use coupa_sim::CoupaSim;
use serde_json::Value;

/// One HTTP client for every test request (building a client per call is slow enough to hide
/// rate-limit behaviour).
pub fn http() -> &'static reqwest::Client {
    static HTTP: std::sync::LazyLock<reqwest::Client> =
        std::sync::LazyLock::new(reqwest::Client::new);
    &HTTP
}

pub const READ_WRITE: &str =
    "core.user.read core.user.write core.user_group.read core.common.read core.accounting.read";

pub async fn token(sim: &CoupaSim, scopes: &str) -> String {
    let response = http()
        .post(format!("{}/oauth2/token", sim.uri()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", sim.client_id()),
            ("client_secret", sim.client_secret()),
            ("scope", scopes),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

pub struct Response {
    pub status: u16,
    pub text: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
}

pub async fn call(
    sim: &CoupaSim,
    method: reqwest::Method,
    token: Option<&str>,
    path: &str,
    query: &[(&str, &str)],
    body: Option<Value>,
) -> Response {
    let mut request = http()
        .request(method, format!("{}{path}", sim.uri()))
        .header("accept", "application/json")
        .query(query);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    Response {
        status,
        text: response.text().await.unwrap_or_default(),
    }
}

pub async fn get(sim: &CoupaSim, token: &str, path: &str, query: &[(&str, &str)]) -> Response {
    call(sim, reqwest::Method::GET, Some(token), path, query, None).await
}

pub fn ids(value: &Value) -> Vec<i64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_i64().unwrap())
        .collect()
}
