//! Client configuration.

use std::num::NonZeroU32;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::Error;
use crate::domain::{DEFAULT_SUFFIXES, base_url_for_domain};

/// OAuth scope sets (COUPA_API §2.2). Scopes are sent space-separated, one word each.
pub mod scopes {
    /// Read users, user groups, roles, content groups.
    pub const READ_ONLY: &[&str] = &[
        "core.business_entity.read",
        "core.common.read",
        "core.user_group.read",
        "core.user.read",
        "login",
        "openid",
        "profile",
    ];
    /// Also change users and group memberships.
    pub const WRITE: &[&str] = &["core.user_group.write", "core.user.write"];
    /// Read account groups; only for clients granted it.
    pub const ACCOUNTING_READ: &str = "core.accounting.read";

    /// The read-only set.
    pub fn read_only() -> Vec<String> {
        READ_ONLY.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The read-write set.
    pub fn read_write() -> Vec<String> {
        READ_ONLY
            .iter()
            .chain(WRITE)
            .map(|s| (*s).to_owned())
            .collect()
    }
}

/// How client credentials are sent to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CredentialStyle {
    /// `client_id` and `client_secret` in the form body (documented by Coupa).
    #[default]
    Body,
    /// HTTP Basic authentication, with only `grant_type` and `scope` in the body.
    Basic,
}

/// Retry bounds for idempotent requests (see the crate docs for what is retried).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// The first backoff delay.
    pub initial_backoff: Duration,
    /// The largest backoff delay.
    pub max_backoff: Duration,
    /// Total time a request may spend, waits included, before it is given up.
    pub max_elapsed: Duration,
    /// The longest wait a server may ask for (`Retry-After`). A longer one is not slept: the
    /// request fails with [`Error::WaitTooLong`] saying what was asked. Default 5 minutes.
    pub max_server_wait: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(120),
            max_server_wait: Duration::from_secs(300),
        }
    }
}

impl RetryConfig {
    /// No retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the attempts per request (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the backoff bounds.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Sets the total time bound.
    pub fn with_max_elapsed(mut self, max: Duration) -> Self {
        self.max_elapsed = max;
        self
    }

    /// Sets the longest server-requested wait that is slept rather than reported.
    pub fn with_max_server_wait(mut self, max: Duration) -> Self {
        self.max_server_wait = max;
        self
    }
}

/// Everything the client needs to reach one tenant. `Debug` never shows the secret.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The base URL requests are joined to (`https://acme.coupahost.com/`).
    pub base_url: Url,
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret.
    pub client_secret: SecretString,
    /// Scopes requested with each token.
    pub scopes: Vec<String>,
    /// How the credentials are sent.
    pub credential_style: CredentialStyle,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Timeout of connecting.
    pub connect_timeout: Duration,
    /// The ceiling of the client-side rate limit in requests per second, shared by all clones
    /// of the client; `None` turns the limit off. Default: 25, Coupa's documented rate. The
    /// limit adapts below the ceiling to what the tenant grants, with bursts of ten (Coupa's
    /// bucket holds 20); see `docs/rate-limit.md`.
    pub rate_limit: Option<NonZeroU32>,
    /// Retry bounds.
    pub retry: RetryConfig,
    /// The largest response body accepted; a larger one is [`Error::BodyTooLarge`]. Default
    /// 64 MiB.
    pub max_body_bytes: usize,
    /// Allow `http://` base URLs for hosts other than loopback. Off by default: credentials and
    /// tokens would cross the network in clear text.
    pub allow_insecure_http: bool,
    /// The request budget (rate limiter and counters) to share with other clients; `None`
    /// gives the client a budget of its own from `rate_limit`.
    pub budget: Option<crate::Budget>,
}

impl Config {
    /// A configuration for the tenant `domain` (see [`base_url_for_domain`] for what is
    /// accepted), with the read-only scopes.
    pub fn new(
        domain: &str,
        client_id: impl Into<String>,
        client_secret: SecretString,
    ) -> Result<Self, Error> {
        let base_url = base_url_for_domain(domain, DEFAULT_SUFFIXES)?;
        Self::with_base_url(base_url.as_str(), client_id, client_secret)
    }

    /// A configuration for a local test server (the simulator, a wiremock server): `base_url` as
    /// given, no client-side rate limit, and quick retries (4 attempts, backoff 5 to 50 ms), so a
    /// test that provokes a retry does not wait for production backoffs. Change any of it with
    /// the setters below.
    pub fn for_test_server(
        base_url: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<SecretString>,
    ) -> Result<Self, Error> {
        let quick = RetryConfig::default()
            .with_backoff(Duration::from_millis(5), Duration::from_millis(50))
            .with_max_attempts(4);
        Ok(
            Self::with_base_url(base_url, client_id, client_secret.into())?
                .with_rate_limit(None)
                .with_retry(quick),
        )
    }

    /// A configuration with an explicit base URL (a sandbox, a proxy, the simulator). The URL
    /// is used as given, never inferred. It must be `https`, or `http` to a loopback host (the
    /// simulator) unless [`Config::allow_insecure_http`] is set before the client is built; a URL
    /// with a user name or password is refused (credentials go in the OAuth fields, and a
    /// password in a URL would end up in logs).
    pub fn with_base_url(
        base_url: &str,
        client_id: impl Into<String>,
        client_secret: SecretString,
    ) -> Result<Self, Error> {
        // Never echo a URL that may hold a password.
        let shown = if base_url.contains('@') {
            "(not shown: it contains '@')".to_owned()
        } else {
            format!("{base_url:?}")
        };
        let mut url = Url::parse(base_url).map_err(|e| Error::InvalidConfig {
            reason: format!("base URL {shown} is not a URL: {e}"),
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
            return Err(Error::InvalidConfig {
                reason: format!("base URL {shown} must be an http or https URL"),
            });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::InvalidConfig {
                reason: "the base URL must not carry a user name or password".into(),
            });
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        let client_id = client_id.into();
        if client_id.trim().is_empty() {
            return Err(Error::InvalidConfig {
                reason: "the client id is empty".into(),
            });
        }
        let exposed = secrecy::ExposeSecret::expose_secret(&client_secret);
        if exposed.is_empty() {
            return Err(Error::InvalidConfig {
                reason: "the client secret is empty".into(),
            });
        }
        if exposed.trim() != exposed {
            return Err(Error::InvalidConfig {
                reason: "the client secret starts or ends with whitespace (a newline from the \
                         file or Secret it came from?); remove it, since Coupa would refuse the \
                         secret as sent"
                    .into(),
            });
        }
        if client_id.trim() != client_id {
            return Err(Error::InvalidConfig {
                reason: "the client id starts or ends with whitespace; remove it".into(),
            });
        }
        Ok(Self {
            base_url: url,
            client_id,
            client_secret,
            scopes: scopes::read_only(),
            credential_style: CredentialStyle::Body,
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            rate_limit: NonZeroU32::new(25),
            retry: RetryConfig::default(),
            max_body_bytes: 64 * 1024 * 1024,
            allow_insecure_http: false,
            budget: None,
        })
    }

    /// Whether the base URL may be used: `https`, or `http` to loopback or by explicit opt-in.
    pub(crate) fn check_transport(&self) -> Result<(), Error> {
        let loopback = match self.base_url.host() {
            Some(url::Host::Domain(host)) => host.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        if self.base_url.scheme() == "http" && !loopback && !self.allow_insecure_http {
            return Err(Error::InvalidConfig {
                reason: format!(
                    "base URL {} is plain http to a host that is not loopback: the secret and \
                     tokens would cross the network unencrypted; use https (or \
                     Config::allow_insecure_http for a trusted proxy)",
                    self.base_url
                ),
            });
        }
        Ok(())
    }

    /// Reads `COUPA_DOMAIN` or `COUPA_BASE_URL` (one is required; the base URL wins),
    /// `COUPA_CLIENT_ID`, `COUPA_CLIENT_SECRET` and the optional space-separated `COUPA_SCOPES`.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Config::from_env`] with a custom variable lookup (blank values count as unset). Every
    /// missing variable is named in one error.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let (base_url, domain) = (get("COUPA_BASE_URL"), get("COUPA_DOMAIN"));
        let (client_id, secret) = (get("COUPA_CLIENT_ID"), get("COUPA_CLIENT_SECRET"));
        let missing: Vec<&str> = [
            (base_url.is_none() && domain.is_none()).then_some("COUPA_DOMAIN (or COUPA_BASE_URL)"),
            client_id.is_none().then_some("COUPA_CLIENT_ID"),
            secret.is_none().then_some("COUPA_CLIENT_SECRET"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let (Some(client_id), Some(secret), false) = (client_id, secret, !missing.is_empty())
        else {
            return Err(Error::InvalidConfig {
                reason: format!(
                    "{} {} not set",
                    missing.join(", "),
                    if missing.len() == 1 { "is" } else { "are" }
                ),
            });
        };
        let secret = SecretString::from(secret);
        let mut config = match (base_url, domain) {
            (Some(url), _) => Self::with_base_url(&url, client_id, secret)?,
            (None, Some(domain)) => Self::new(&domain, client_id, secret)?,
            (None, None) => unreachable!("a missing tenant is reported above"),
        };
        if let Some(scopes) = get("COUPA_SCOPES") {
            config.scopes = scopes.split_whitespace().map(str::to_owned).collect();
        }
        Ok(config)
    }

    /// Sets the scopes.
    pub fn with_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Adds one scope if absent.
    pub fn with_scope(mut self, scope: &str) -> Self {
        if !self.scopes.iter().any(|s| s == scope) {
            self.scopes.push(scope.to_owned());
        }
        self
    }

    /// Sets how credentials are sent.
    pub fn with_credential_style(mut self, style: CredentialStyle) -> Self {
        self.credential_style = style;
        self
    }

    /// Sets the ceiling of the client-side rate limit; `None` turns it off.
    pub fn with_rate_limit(mut self, per_second: Option<u32>) -> Self {
        self.rate_limit = per_second.and_then(NonZeroU32::new);
        self
    }

    /// Sets the retry bounds.
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the request timeout.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Allows (or refuses) plain `http` to hosts other than loopback.
    pub fn with_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Sets the largest response body accepted.
    pub fn with_max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// Shares `budget` (rate limiter and counters) with every other client built with it. The
    /// budget's own rate applies; `rate_limit` is then unused.
    pub fn with_budget(mut self, budget: crate::Budget) -> Self {
        self.budget = Some(budget);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn from_env_reads_domain_or_base_url() {
        let c = Config::from_lookup(env(&[
            ("COUPA_DOMAIN", "acme"),
            ("COUPA_CLIENT_ID", "id"),
            ("COUPA_CLIENT_SECRET", "s3cr3t-value"),
            ("COUPA_SCOPES", "core.user.read  openid"),
        ]))
        .unwrap();
        assert_eq!(c.base_url.as_str(), "https://acme.coupahost.com/");
        assert_eq!(c.scopes, ["core.user.read", "openid"]);
        let c = Config::from_lookup(env(&[
            ("COUPA_BASE_URL", "http://127.0.0.1:9999/sandbox"),
            ("COUPA_DOMAIN", "acme"),
            ("COUPA_CLIENT_ID", "id"),
            ("COUPA_CLIENT_SECRET", "x"),
        ]))
        .unwrap();
        assert_eq!(c.base_url.as_str(), "http://127.0.0.1:9999/sandbox/");
        let err = Config::from_lookup(env(&[
            ("COUPA_CLIENT_ID", "id"),
            ("COUPA_CLIENT_SECRET", "x"),
        ]))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration: COUPA_DOMAIN (or COUPA_BASE_URL) is not set"
        );
        let err = Config::from_lookup(env(&[("COUPA_DOMAIN", "acme"), ("COUPA_CLIENT_ID", "id")]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration: COUPA_CLIENT_SECRET is not set"
        );
        let err = Config::from_lookup(env(&[("COUPA_DOMAIN", "acme")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration: COUPA_CLIENT_ID, COUPA_CLIENT_SECRET are not set"
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c = Config::new("acme", "id", SecretString::from("s3cr3t-value")).unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cr3t-value"), "{debug}");
        assert!(debug.contains("REDACTED"), "{debug}");
    }

    #[test]
    fn base_urls_must_be_http() {
        let err = Config::with_base_url("ftp://x/", "id", SecretString::from("s")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration: base URL \"ftp://x/\" must be an http or https URL"
        );
        let err = Config::with_base_url("https://x/", " ", SecretString::from("s")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration: the client id is empty"
        );
    }
}
