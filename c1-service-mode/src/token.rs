//! The access token: fetched from `https://<host>/auth/v1/token` with a signed client assertion,
//! cached, and fetched again before it expires.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use crate::credentials::{ClientId, ClientSecret};

/// Why no access token could be had. Never carries the secret or a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token endpoint answered with a status other than 200.
    #[error("the token endpoint refused client {client}: HTTP {status}")]
    Refused {
        /// The client id.
        client: String,
        /// The HTTP status.
        status: u16,
    },
    /// The token endpoint could not be reached, or its answer could not be read.
    #[error("the token endpoint failed for client {client}: {what}")]
    Unavailable {
        /// The client id.
        client: String,
        /// What failed.
        what: &'static str,
        /// The underlying error (reqwest's, serde_json's), when there is one.
        #[source]
        source: Option<connector_sdk::BoxError>,
    },
}

impl TokenError {
    /// Whether the endpoint refused the credentials (401 or 403): the secret is wrong, revoked
    /// or not yet valid, and retrying soon will not help.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::Refused {
                status: 401 | 403,
                ..
            }
        )
    }
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    token_type: String,
    expires_in: Option<u64>,
}

struct Cached {
    header: SecretString,
    refresh_at: Instant,
}

/// Whether two header values are the same token.
fn same(a: &SecretString, b: &SecretString) -> bool {
    a.expose_secret() == b.expose_secret()
}

/// Tokens for one client.
pub(crate) struct Tokens {
    http: reqwest::Client,
    url: String,
    client: ClientId,
    secret: ClientSecret,
    cached: Mutex<Option<Cached>>,
}

/// The largest token answer read: 64 KiB.
const MAX_ANSWER: usize = 64 * 1024;

/// The longest lifetime trusted from an answer: a day.
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

impl Tokens {
    pub(crate) fn new(
        http: reqwest::Client,
        host: &str,
        client: ClientId,
        secret: ClientSecret,
    ) -> Self {
        Self {
            http,
            url: format!("https://{host}/auth/v1/token"),
            client,
            secret,
            cached: Mutex::new(None),
        }
    }

    /// The `authorization` header value, such as `Bearer <token>`: the cached one, or a new one
    /// when none is cached or it is past 80 % of its lifetime (at least 10 s before expiry).
    pub(crate) async fn header(&self) -> Result<SecretString, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(c.header.clone());
        }
        let fresh = self.fetch().await?;
        let header = fresh.header.clone();
        *cached = Some(fresh);
        Ok(header)
    }

    /// Forgets the cached token if it is the one the service refused (`refused`, the header
    /// that call sent): a token another call fetched since is kept.
    pub(crate) async fn forget(&self, refused: &SecretString) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| same(&c.header, refused)) {
            *cached = None;
        }
    }

    async fn fetch(&self) -> Result<Cached, TokenError> {
        let unavailable =
            |what: &'static str, source: Option<connector_sdk::BoxError>| TokenError::Unavailable {
                client: self.client.to_string(),
                what,
                source,
            };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let assertion = self.secret.assertion(&self.client, now);
        let form = [
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
            ("client_id", self.client.as_str()),
            ("grant_type", "client_credentials"),
        ];
        let asked = Instant::now();
        let response = self
            .http
            .post(&self.url)
            .form(&form)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(|e| unavailable("the request failed", Some(Box::new(e))))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(TokenError::Refused {
                client: self.client.to_string(),
                status,
            });
        }
        // Read a chunk at a time against the cap: a declared or endless large body is refused
        // without being held.
        let too_large = || unavailable("the answer is larger than 64 KiB", None);
        if response
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER as u64)
        {
            return Err(too_large());
        }
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| unavailable("the answer could not be read", Some(Box::new(e))))?
        {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|e| unavailable("the answer is not a token", Some(Box::new(e))))?;
        if answer.access_token.trim().is_empty() {
            return Err(unavailable("the answer holds no access token", None));
        }
        let scheme = match answer.token_type.to_ascii_lowercase().as_str() {
            "" | "bearer" => "Bearer".to_owned(),
            "mac" => "MAC".to_owned(),
            "basic" => "Basic".to_owned(),
            _ => answer.token_type.clone(),
        };
        let lifetime = answer
            .expires_in
            .map_or(Duration::ZERO, Duration::from_secs)
            .min(MAX_LIFETIME);
        // Refresh at 80 % of the lifetime, and at least 10 s before it ends; a token without
        // a lifetime serves one call.
        let early = (lifetime / 5).max(Duration::from_secs(10));
        Ok(Cached {
            header: SecretString::from(format!("{scheme} {}", answer.access_token)),
            refresh_at: asked + lifetime.saturating_sub(early),
        })
    }
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("url", &self.url)
            .field("client", &self.client.as_str())
            .finish_non_exhaustive()
    }
}

/// The header value as the gRPC metadata wants it.
pub(crate) fn metadata_value(
    header: &SecretString,
) -> Result<tonic::metadata::MetadataValue<tonic::metadata::Ascii>, TokenError> {
    let mut value: tonic::metadata::MetadataValue<tonic::metadata::Ascii> = header
        .expose_secret()
        .parse()
        .map_err(|_| TokenError::Unavailable {
            client: String::new(),
            what: "the access token is not a valid header value",
            source: None,
        })?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_refused_token_is_forgotten() {
        let secret = ClientSecret::encode(&ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]));
        let tokens = Tokens::new(
            reqwest::Client::new(),
            "host.invalid",
            ClientId::parse("agent@host.invalid/pcc").unwrap(),
            ClientSecret::parse(&secret).unwrap(),
        );
        let cached = |header: &str| Cached {
            header: SecretString::from(header.to_owned()),
            refresh_at: Instant::now() + Duration::from_secs(600),
        };
        *tokens.cached.lock().await = Some(cached("Bearer new"));
        // A call that sent the old token was refused: the one fetched since stays.
        tokens.forget(&SecretString::from("Bearer old")).await;
        let header = tokens.header().await.unwrap();
        assert_eq!(header.expose_secret(), "Bearer new");
        // The refused token itself is dropped.
        tokens.forget(&SecretString::from("Bearer new")).await;
        assert!(tokens.cached.lock().await.is_none());
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_keeps_the_transport_error_as_the_source() {
        let secret = ClientSecret::encode(&ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]));
        // Nothing listens on port 1 of this host.
        let tokens = Tokens::new(
            reqwest::Client::new(),
            "127.0.0.1:1",
            ClientId::parse("agent@host.invalid/pcc").unwrap(),
            ClientSecret::parse(&secret).unwrap(),
        );
        let error = tokens.header().await.unwrap_err();
        assert!(!error.is_refusal());
        assert_eq!(
            error.to_string(),
            "the token endpoint failed for client agent@host.invalid/pcc: the request failed"
        );
        let source = std::error::Error::source(&error).expect("a source");
        let transport = source
            .downcast_ref::<reqwest::Error>()
            .expect("reqwest's error");
        assert!(transport.is_connect(), "{transport:?}");
    }
}
