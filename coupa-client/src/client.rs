//! [`CoupaClient`]: cheap to clone; clones share the token, the rate limiter and the counters.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::auth::TokenCache;
use crate::config::Config;
use crate::error::Error;

/// The burst Coupa's rate limiter allows (COUPA_API §3.7).
const COUPA_BURST: NonZeroU32 = NonZeroU32::new(20).unwrap();

/// Counters of what the client did, across all clones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ClientStats {
    /// HTTP requests sent, token requests and retries included.
    pub requests: u64,
    /// Retries after a transient failure other than a 429.
    pub retries: u64,
    /// Retries after a 429.
    pub rate_limit_waits: u64,
    /// Tokens minted.
    pub tokens: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limit_waits: AtomicU64,
    tokens: AtomicU64,
}

impl Counters {
    pub(crate) fn record_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn record_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn record_rate_limit_wait(&self) {
        self.rate_limit_waits.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn record_token(&self) {
        self.tokens.fetch_add(1, Ordering::Relaxed);
    }
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) http: reqwest::Client,
    pub(crate) limiter: Option<DefaultDirectRateLimiter>,
    pub(crate) tokens: TokenCache,
    pub(crate) counters: Counters,
}

/// A Coupa API client for one tenant.
#[derive(Clone)]
pub struct CoupaClient {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for CoupaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.inner.config;
        f.debug_struct("CoupaClient")
            .field("base_url", &config.base_url.as_str())
            .field("client_id", &config.client_id)
            .field("scopes", &config.scopes)
            .finish_non_exhaustive()
    }
}

impl CoupaClient {
    /// A client for `config`. Makes no request.
    pub fn new(config: Config) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("coupa-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::InvalidConfig {
                reason: format!("cannot build the HTTP client: {e}"),
            })?;
        // Coupa's leaky bucket holds 20 requests: a larger burst would earn 429s at start-up.
        let limiter = config.rate_limit.map(|rate| {
            let burst = rate.min(COUPA_BURST);
            RateLimiter::direct(Quota::per_second(rate).allow_burst(burst))
        });
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                http,
                limiter,
                tokens: TokenCache::default(),
                counters: Counters::default(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// What the client (and its clones) did so far.
    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.counters;
        ClientStats {
            requests: c.requests.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            rate_limit_waits: c.rate_limit_waits.load(Ordering::Relaxed),
            tokens: c.tokens.load(Ordering::Relaxed),
        }
    }

    /// Mints a token if none is cached, proving the credentials and scopes are accepted.
    pub async fn authenticate(&self) -> Result<(), Error> {
        self.inner.token().await.map(|_| ())
    }

    /// The scopes the token endpoint granted, when its response listed them (`scope`).
    pub async fn granted_scopes(&self) -> Result<Option<Vec<String>>, Error> {
        self.inner.granted_scopes().await
    }
}
