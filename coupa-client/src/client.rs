//! [`CoupaClient`]: cheap to clone; clones share the token, the rate limiter and the counters.
//! [`Budget`]: a rate limiter and counters that several clients can share.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::auth::TokenCache;
use crate::config::Config;
use crate::error::Error;
use crate::limiter::Limiter;

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

/// What requests may be sent and what they did: one client-side rate limiter and one set of
/// counters. Every client built with the same budget (see [`crate::Config::budget`]) draws on
/// the same rate, so clients for reads, writes and fallbacks together stay under Coupa's limit,
/// and their [`ClientStats`] are one set. Cheap to clone.
#[derive(Clone)]
pub struct Budget {
    inner: Arc<BudgetInner>,
}

struct BudgetInner {
    limiter: Option<Limiter>,
    counters: Counters,
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("limited", &self.inner.limiter.is_some())
            .field("stats", &self.stats())
            .finish()
    }
}

impl Budget {
    /// A budget of at most `per_second` requests (`None` or 0: unlimited). The rate adapts
    /// below that ceiling to what the tenant grants (a 429 lowers it, answers raise it again);
    /// bursts stay at ten, half of what Coupa's bucket holds. See `docs/rate-limit.md`.
    pub fn new(per_second: Option<u32>) -> Self {
        let limiter = per_second
            .and_then(NonZeroU32::new)
            .map(|rate| Limiter::new(rate.get()));
        Self {
            inner: Arc::new(BudgetInner {
                limiter,
                counters: Counters::default(),
            }),
        }
    }

    /// What every client on this budget did so far.
    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.counters;
        ClientStats {
            requests: c.requests.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            rate_limit_waits: c.rate_limit_waits.load(Ordering::Relaxed),
            tokens: c.tokens.load(Ordering::Relaxed),
        }
    }

    /// The rate the limiter allows now, requests a second (`None`: unlimited).
    pub fn current_rate(&self) -> Option<f64> {
        self.inner.limiter.as_ref().map(Limiter::rate)
    }

    /// What the rate limiter learned of the tenant (`None`: unlimited): its rate now and the
    /// rate at which the last 429 came, for a later process to [`Budget::resume`] from.
    pub fn learned(&self) -> Option<LearnedRate> {
        self.inner.limiter.as_ref().map(|limiter| {
            let (rate, limit) = limiter.learned();
            LearnedRate { rate, limit }
        })
    }

    /// Starts the rate limiter from what an earlier one learned, instead of the ceiling: the
    /// first requests do not overflow a bucket another integration shares. The rate stays
    /// within the ceiling and probes upwards as after a 429.
    pub fn resume(&self, learned: &LearnedRate) {
        if let Some(limiter) = &self.inner.limiter {
            limiter.resume(learned.rate, learned.limit);
        }
    }

    /// Waits for the rate limiter, if any.
    pub(crate) async fn until_ready(&self) {
        if let Some(limiter) = &self.inner.limiter {
            limiter.until_ready().await;
        }
    }

    /// Tells the limiter how a request was answered: 429 (with its `Retry-After`) or not.
    pub(crate) fn answered(&self, status: u16, retry_after: Option<std::time::Duration>) {
        if let Some(limiter) = &self.inner.limiter {
            if status == 429 {
                limiter.limited(std::time::Instant::now(), retry_after);
            } else {
                limiter.answered();
            }
        }
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.inner.counters
    }
}

/// What a rate limiter learned of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct LearnedRate {
    /// The rate it allowed, requests a second.
    pub rate: f64,
    /// The rate at which the last 429 came, if one did.
    pub limit: Option<f64>,
}

impl LearnedRate {
    /// A learned rate.
    pub fn new(rate: f64, limit: Option<f64>) -> Self {
        Self { rate, limit }
    }
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
    pub(crate) budget: Budget,
    pub(crate) tokens: TokenCache,
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
    /// A client for `config`. Makes no request. Refuses plain `http` to a host that is not
    /// loopback unless [`Config::allow_insecure_http`] is set. Redirects are never followed: a
    /// 3xx answer is [`Error::Redirect`] (following one would re-send the secret or the token to
    /// wherever the server points).
    pub fn new(config: Config) -> Result<Self, Error> {
        config.check_transport()?;
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("coupa-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::InvalidConfig {
                reason: format!("cannot build the HTTP client: {e}"),
            })?;
        let budget = config
            .budget
            .clone()
            .unwrap_or_else(|| Budget::new(config.rate_limit.map(NonZeroU32::get)));
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                http,
                budget,
                tokens: TokenCache::default(),
            }),
        })
    }

    /// The request budget this client draws on (shared with the clients built with it).
    pub fn budget(&self) -> &Budget {
        &self.inner.budget
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// What the client, its clones and every client sharing its budget did so far.
    pub fn stats(&self) -> ClientStats {
        self.inner.budget.stats()
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
