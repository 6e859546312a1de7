//! OAuth2 client credentials: one cached token, refreshed before expiry, one refresh at a time.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::Method;
use secrecy::SecretString;
use serde::Deserialize;
use tokio::time::Instant;

use crate::client::Inner;
use crate::decode::decode;
use crate::error::Error;
use crate::transport::{Body, Request};

/// An OAuth error code from the token endpoint (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OAuthError {
    /// The client id or secret is wrong.
    InvalidClient,
    /// The grant is invalid or expired.
    InvalidGrant,
    /// A requested scope is unknown or not granted to the client.
    InvalidScope,
    /// The request is malformed.
    InvalidRequest,
    /// The client may not use this grant type.
    UnauthorizedClient,
    /// The server refused.
    AccessDenied,
    /// The grant type is not supported.
    UnsupportedGrantType,
    /// Any other code, as sent.
    Other(String),
}

impl OAuthError {
    /// The code from its wire form.
    pub fn from_code(code: &str) -> Self {
        match code {
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "invalid_scope" => Self::InvalidScope,
            "invalid_request" => Self::InvalidRequest,
            "unauthorized_client" => Self::UnauthorizedClient,
            "access_denied" => Self::AccessDenied,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The wire form.
    pub fn code(&self) -> &str {
        match self {
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidRequest => "invalid_request",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::Other(code) => code,
        }
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A bearer token and the generation that minted it.
#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub(crate) value: SecretString,
    pub(crate) generation: u64,
}

#[derive(Debug)]
struct CachedToken {
    token: AccessToken,
    refresh_at: Instant,
    scopes: Option<Vec<String>>,
}

/// The token slot. The async mutex is held while minting, so concurrent callers that find the
/// token stale wait for one refresh instead of starting their own.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    slot: tokio::sync::Mutex<Option<CachedToken>>,
    generation: AtomicU64,
}

#[serde_with::serde_as]
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// Seconds, as a number or a numeric string (some proxies send `"3600"`).
    #[serde(default)]
    #[serde_as(as = "Option<serde_with::PickFirst<(_, serde_with::DisplayFromStr)>>")]
    expires_in: Option<u64>,
    #[serde(default)]
    scope: Option<String>,
}

/// Coupa's documented token lifetime, used when a response omits `expires_in`, and the longest
/// lifetime believed: a larger `expires_in` is capped, so no server value can overflow the clock
/// or keep a token cached past Coupa's own day.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(86_399);

/// How long after minting a token of `lifetime` is refreshed: at 80 % of its lifetime, and at
/// least 10 s before it expires, but never before half of it has passed (so a short-lived token,
/// such as the hour some proxies grant, is refreshed a few times a day, not for every request).
/// A day-long Coupa token is refreshed after about 19 h 12 min.
pub(crate) fn refresh_after(lifetime: Duration) -> Duration {
    const BEFORE_EXPIRY: Duration = Duration::from_secs(10);
    let at_fraction = lifetime.mul_f64(0.8);
    let before_expiry = lifetime.saturating_sub(BEFORE_EXPIRY).max(lifetime / 2);
    at_fraction.min(before_expiry)
}

impl Inner {
    /// A valid token: the cached one, or a fresh one when it is missing or due for refresh.
    pub(crate) async fn token(&self) -> Result<AccessToken, Error> {
        let mut slot = self.tokens.slot.lock().await;
        if let Some(cached) = slot.as_ref()
            && Instant::now() < cached.refresh_at
        {
            return Ok(cached.token.clone());
        }
        let minted = self.mint().await?;
        let token = minted.token.clone();
        *slot = Some(minted);
        Ok(token)
    }

    /// Drops the cached token if it is still the one of `generation` (a call got 401 with it).
    pub(crate) async fn invalidate(&self, generation: u64) {
        let mut slot = self.tokens.slot.lock().await;
        if slot
            .as_ref()
            .is_some_and(|c| c.token.generation == generation)
        {
            *slot = None;
        }
    }

    /// The scopes the token endpoint said it granted, when it said (mints a token if needed).
    pub(crate) async fn granted_scopes(&self) -> Result<Option<Vec<String>>, Error> {
        self.token().await?;
        Ok(self
            .tokens
            .slot
            .lock()
            .await
            .as_ref()
            .and_then(|c| c.scopes.clone()))
    }

    async fn mint(&self) -> Result<CachedToken, Error> {
        let request = Request {
            method: Method::POST,
            path: "oauth2/token".into(),
            query: Vec::new(),
            body: Body::TokenForm,
            scope: None,
        };
        let body = Box::pin(self.send(&request)).await?;
        let response: TokenResponse = decode("/oauth2/token", &body)?;
        let lifetime = response
            .expires_in
            .map_or(DEFAULT_LIFETIME, Duration::from_secs)
            .min(DEFAULT_LIFETIME);
        let generation = self.tokens.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.budget.counters().record_token();
        tracing::debug!(
            generation,
            lifetime_s = lifetime.as_secs(),
            "minted a Coupa token"
        );
        Ok(CachedToken {
            token: AccessToken {
                value: SecretString::from(response.access_token),
                generation,
            },
            refresh_at: Instant::now()
                .checked_add(refresh_after(lifetime))
                .unwrap_or_else(Instant::now),
            scopes: response
                .scope
                .map(|s| s.split_whitespace().map(str::to_owned).collect()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_refreshed_at_a_fraction_of_their_lifetime() {
        let secs = Duration::from_secs;
        for (lifetime, after) in [
            (secs(86_399), Duration::from_millis(69_119_200)),
            (secs(3_600), secs(2_880)),
            (secs(40), secs(30)),
            (secs(20), secs(10)),
            (secs(2), secs(1)),
            (Duration::ZERO, Duration::ZERO),
        ] {
            assert_eq!(refresh_after(lifetime), after, "{lifetime:?}");
        }
    }

    #[test]
    fn expires_in_is_a_number_or_a_numeric_string() {
        for body in [
            r#"{"access_token":"t","expires_in":3600}"#,
            r#"{"access_token":"t","expires_in":"3600"}"#,
        ] {
            let response: TokenResponse = serde_json::from_str(body).unwrap();
            assert_eq!(response.expires_in, Some(3600), "{body}");
        }
        let response: TokenResponse = serde_json::from_str(r#"{"access_token":"t"}"#).unwrap();
        assert_eq!(response.expires_in, None);
        assert!(
            serde_json::from_str::<TokenResponse>(r#"{"access_token":"t","expires_in":"soon"}"#)
                .is_err()
        );
    }
}
