//! The one retry decision, as pure functions of the request and what went wrong.
//!
//! What is retried:
//!
//! | failure | GET (idempotent) | PUT, POST |
//! |---|---|---|
//! | connect error (the request never left) | yes | yes |
//! | timeout, connection reset, body cut short | yes | no |
//! | 429 | yes, honouring `Retry-After` | yes, honouring `Retry-After` |
//! | 500, 502, 503, 504 | yes, honouring `Retry-After` | no |
//! | anything else | no | no |
//!
//! The token request counts as idempotent: minting a token changes nothing. A 429 comes from
//! Coupa's rate limit, which refuses a request before it is processed, so a write answered 429
//! is waited for and sent again: a write in flight (a role removal between its clear and its
//! set) finishes instead of failing half done. A write that fails after it may have reached the
//! server is never repeated blindly: the caller re-reads and decides. Retries stop at `max_attempts` or when the next wait would pass
//! `max_elapsed`.

use std::time::{Duration, SystemTime};

use crate::config::RetryConfig;

/// What went wrong with one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The connection could not be made.
    Connect,
    /// The request or its response timed out.
    Timeout,
    /// Another transport failure after the request may have been sent.
    Transport,
    /// An HTTP status.
    Status(u16),
}

/// Whether `failure` may be retried for a request that is (or is not) idempotent.
pub(crate) fn retryable(idempotent: bool, failure: Failure) -> bool {
    match failure {
        Failure::Connect => true,
        Failure::Timeout | Failure::Transport => idempotent,
        Failure::Status(429) => true,
        Failure::Status(500 | 502 | 503 | 504) => idempotent,
        Failure::Status(_) => false,
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Wait this long, then try again.
    Retry(Duration),
    /// Stop and report the failure.
    Stop,
    /// Stop: the server asked for a wait longer than `max_server_wait`.
    WaitTooLong(Duration),
}

/// What to do after a failed attempt. `attempts` counts attempts made, `elapsed` the time since
/// the first, `backoff` the next exponential delay. A server-given wait above `max_server_wait`
/// is never slept; arithmetic on server-given durations never overflows.
pub(crate) fn next_wait(
    config: &RetryConfig,
    idempotent: bool,
    failure: Failure,
    attempts: u32,
    elapsed: Duration,
    retry_after: Option<Duration>,
    backoff: Duration,
) -> Next {
    if !retryable(idempotent, failure) || attempts >= config.max_attempts {
        return Next::Stop;
    }
    if let Some(asked) = retry_after
        && asked > config.max_server_wait
    {
        return Next::WaitTooLong(asked);
    }
    let wait = retry_after.unwrap_or(backoff);
    match elapsed.checked_add(wait) {
        Some(total) if total <= config.max_elapsed => Next::Retry(wait),
        _ => Next::Stop,
    }
}

/// Parses `Retry-After`: delay seconds or an HTTP date. Any number of seconds is accepted (the
/// caller caps it); a date in the past is no wait.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_table() {
        let c = RetryConfig::default();
        let b = Duration::from_secs(1);
        let s = Duration::from_secs;
        let cases = [
            // (idempotent, failure, attempts, elapsed, retry_after, expected)
            (true, Failure::Status(503), 1, s(0), None, Next::Retry(b)),
            (
                true,
                Failure::Status(429),
                1,
                s(0),
                Some(s(7)),
                Next::Retry(s(7)),
            ),
            (true, Failure::Status(500), 5, s(0), None, Next::Retry(b)),
            (true, Failure::Status(500), 6, s(0), None, Next::Stop),
            (true, Failure::Status(502), 1, s(119), None, Next::Retry(b)),
            (true, Failure::Status(502), 1, s(120), None, Next::Stop),
            (
                true,
                Failure::Status(429),
                1,
                s(100),
                Some(s(30)),
                Next::Stop,
            ),
            (
                true,
                Failure::Status(429),
                1,
                s(0),
                Some(s(300)),
                Next::Stop,
            ),
            (
                true,
                Failure::Status(429),
                1,
                s(0),
                Some(s(301)),
                Next::WaitTooLong(s(301)),
            ),
            (
                true,
                Failure::Status(429),
                1,
                s(0),
                Some(s(3000)),
                Next::WaitTooLong(s(3000)),
            ),
            (
                true,
                Failure::Status(503),
                1,
                s(0),
                Some(s(u64::MAX)),
                Next::WaitTooLong(s(u64::MAX)),
            ),
            (true, Failure::Status(400), 1, s(0), None, Next::Stop),
            (true, Failure::Status(404), 1, s(0), None, Next::Stop),
            (true, Failure::Status(307), 1, s(0), None, Next::Stop),
            (true, Failure::Timeout, 1, s(0), None, Next::Retry(b)),
            (true, Failure::Transport, 1, s(0), None, Next::Retry(b)),
            (false, Failure::Connect, 1, s(0), None, Next::Retry(b)),
            (false, Failure::Timeout, 1, s(0), None, Next::Stop),
            (false, Failure::Transport, 1, s(0), None, Next::Stop),
            (false, Failure::Status(500), 1, s(0), None, Next::Stop),
            (
                false,
                Failure::Status(429),
                1,
                s(0),
                Some(s(1)),
                Next::Retry(s(1)),
            ),
            (false, Failure::Status(429), 6, s(0), Some(s(1)), Next::Stop),
        ];
        for (idempotent, failure, attempts, elapsed, retry_after, expected) in cases {
            assert_eq!(
                next_wait(&c, idempotent, failure, attempts, elapsed, retry_after, b),
                expected,
                "{idempotent} {failure:?} attempts={attempts} elapsed={elapsed:?}"
            );
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap();
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:28:05 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(
            parse_retry_after("18446744073709551615", now),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now)
                .map(|d| d > Duration::from_secs(300)),
            Some(true)
        );
    }
}
