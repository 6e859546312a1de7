//! HTTP behaviour of the client against wiremock.

#![allow(missing_docs, unreachable_pub)]

mod auth;
mod errors;
mod lists;
mod retries;
mod transport;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use coupa_client::{Config, CoupaClient};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const SECRET: &str = "sup3r-s3cret-value";

/// Mints `tok-1`, `tok-2`, ... with the given lifetime.
#[derive(Clone)]
pub struct Tokens {
    pub minted: Arc<AtomicUsize>,
    pub lifetime: u64,
}

impl Respond for Tokens {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.minted.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": format!("tok-{n}"),
            "token_type": "bearer",
            "expires_in": self.lifetime,
            "scope": "core.user.read openid"
        }))
    }
}

pub async fn token_endpoint(server: &MockServer, lifetime: u64) -> Arc<AtomicUsize> {
    let minted = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(Tokens {
            minted: minted.clone(),
            lifetime,
        })
        .mount(server)
        .await;
    minted
}

pub fn config(server: &MockServer) -> Config {
    Config::for_test_server(&server.uri(), "client-id", SECRET).unwrap()
}

pub fn client(server: &MockServer) -> CoupaClient {
    CoupaClient::new(config(server)).unwrap()
}

/// Requests the server saw on `p`.
pub async fn seen(server: &MockServer, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

pub fn query(request: &Request) -> Vec<(String, String)> {
    request
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
