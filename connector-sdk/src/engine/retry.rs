//! The engine's one retry policy, as a pure decision function.

use std::time::Duration;

use crate::error::{ConnectorError, ErrorKind};

/// How the engine retries a failed connector call.
///
/// * [`ErrorKind::RateLimited`]: wait `retry_after` (or the backoff when absent) and retry the
///   same page, up to `max_rate_limited_waits` times per page. A wait above `max_wait` is never
///   slept: the page gives up and says what the service asked.
/// * [`ErrorKind::Transient`]: retry with exponential backoff and jitter, up to
///   `max_attempts` calls per page.
/// * Anything else, [`ErrorKind::RetriedByConnector`] included (the connector already retried):
///   stop.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Calls per page, the first included, before a transient error is given up on.
    pub max_attempts: u32,
    /// The first backoff delay.
    pub initial_backoff: Duration,
    /// The largest backoff delay (before jitter).
    pub max_backoff: Duration,
    /// Rate-limit waits per page before the engine gives up.
    pub max_rate_limited_waits: u32,
    /// The longest rate-limit wait slept; a service that asks for more fails the page.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            max_rate_limited_waits: 20,
            max_wait: Duration::from_secs(300),
        }
    }
}

/// What to do after a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryDecision {
    /// Wait, then call again. `rate_limited` tells a wait the service asked for from a backoff.
    Retry {
        /// How long to wait.
        after: Duration,
        /// Whether the wait is a rate-limit wait.
        rate_limited: bool,
    },
    /// Stop and report the error.
    GiveUp,
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            max_rate_limited_waits: 0,
            ..Self::default()
        }
    }

    /// Sets the attempts per page.
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

    /// Sets the longest rate-limit wait slept.
    pub fn with_max_wait(mut self, max: Duration) -> Self {
        self.max_wait = max;
        self
    }

    /// Sets the rate-limit waits per page.
    pub fn with_max_rate_limited_waits(mut self, waits: u32) -> Self {
        self.max_rate_limited_waits = waits;
        self
    }

    /// The backoff before retry number `n` (1-based), before jitter.
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// The `n`th backoff at a point of its upper half: `jitter` in `0.0..=1.0` scales it into
    /// `[backoff/2, backoff]`, so retries of many callers spread out.
    pub fn jittered_backoff(&self, n: u32, jitter: f64) -> Duration {
        self.backoff(n).mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }

    /// Decides after a failure. `failures` counts transient failures of this page so far (this
    /// one included), `waits` the rate-limit waits so far (this one excluded). `jitter` in
    /// `0.0..=1.0` scales the backoff into `[backoff/2, backoff]`.
    pub fn decide(
        &self,
        error: &ConnectorError,
        failures: u32,
        waits: u32,
        jitter: f64,
    ) -> RetryDecision {
        let retry_after = error.retry_after();
        match error.kind() {
            ErrorKind::RateLimited
                if waits < self.max_rate_limited_waits
                    && retry_after.is_none_or(|asked| asked <= self.max_wait) =>
            {
                RetryDecision::Retry {
                    after: retry_after.unwrap_or_else(|| self.jittered_backoff(waits + 1, jitter)),
                    rate_limited: true,
                }
            }
            ErrorKind::Transient if failures < self.max_attempts => RetryDecision::Retry {
                after: self.jittered_backoff(failures, jitter),
                rate_limited: false,
            },
            _ => RetryDecision::GiveUp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient() -> ConnectorError {
        ConnectorError::new(ErrorKind::Transient, "503")
    }

    #[test]
    fn decision_table() {
        let policy = RetryPolicy::default();
        let ms = Duration::from_millis;
        let limited = |s: Option<u64>| ConnectorError::rate_limited(s.map(Duration::from_secs));
        let retry = |after, rate_limited| RetryDecision::Retry {
            after,
            rate_limited,
        };
        let cases: Vec<(ConnectorError, u32, u32, f64, RetryDecision)> = vec![
            (transient(), 1, 0, 1.0, retry(ms(200), false)),
            (transient(), 2, 0, 1.0, retry(ms(400), false)),
            (transient(), 4, 0, 1.0, retry(ms(1600), false)),
            (transient(), 4, 0, 0.0, retry(ms(800), false)),
            (transient(), 5, 0, 1.0, RetryDecision::GiveUp),
            (limited(Some(7)), 0, 0, 1.0, retry(ms(7000), true)),
            (limited(None), 0, 2, 1.0, retry(ms(800), true)),
            (limited(Some(1)), 0, 20, 1.0, RetryDecision::GiveUp),
            (limited(Some(300)), 0, 0, 1.0, retry(ms(300_000), true)),
            (limited(Some(3000)), 0, 0, 1.0, RetryDecision::GiveUp),
            (limited(Some(u64::MAX)), 0, 0, 1.0, RetryDecision::GiveUp),
            (
                ConnectorError::new(
                    ErrorKind::RetriedByConnector,
                    "503 after the client's retries",
                ),
                1,
                0,
                1.0,
                RetryDecision::GiveUp,
            ),
            (
                ConnectorError::not_found("x"),
                1,
                0,
                1.0,
                RetryDecision::GiveUp,
            ),
            (ConnectorError::fatal("x"), 1, 0, 1.0, RetryDecision::GiveUp),
            (
                ConnectorError::permission_denied("x"),
                1,
                0,
                1.0,
                RetryDecision::GiveUp,
            ),
        ];
        for (error, failures, waits, jitter, expected) in cases {
            assert_eq!(
                policy.decide(&error, failures, waits, jitter),
                expected,
                "{error:?} failures={failures} waits={waits}"
            );
        }
    }

    #[test]
    fn backoff_is_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(1), Duration::from_millis(200));
        assert_eq!(policy.backoff(40), Duration::from_secs(30));
    }
}
