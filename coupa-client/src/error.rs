//! The client's one error type. No variant ever holds a secret, a token or a header.

use std::time::Duration;

/// A failed API call or invalid configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The tenant domain is not one the client accepts.
    #[error("invalid Coupa domain {input:?}: {reason}")]
    InvalidDomain {
        /// What was given.
        input: String,
        /// Why it was refused and what is accepted.
        reason: String,
    },
    /// The configuration is incomplete or inconsistent.
    #[error("invalid configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// The token endpoint refused the credentials, or a call stayed unauthorised after one
    /// token refresh.
    #[error("authentication failed (HTTP {status}{}){}", code.as_ref().map(|c| format!(", {c}")).unwrap_or_default(), description.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Auth {
        /// The HTTP status.
        status: u16,
        /// The OAuth error code (`invalid_client`, `invalid_scope`, ...), when given.
        code: Option<crate::OAuthError>,
        /// The server's description, when given.
        description: Option<String>,
    },
    /// The token lacks a permission, most likely an OAuth scope.
    #[error("forbidden: {method} {path}{}", scope.map(|s| format!(" (probably missing scope `{s}`)")).unwrap_or_default())]
    Forbidden {
        /// The method.
        method: String,
        /// The request path.
        path: String,
        /// The scope the endpoint needs.
        scope: Option<&'static str>,
        /// The server's messages.
        messages: Vec<String>,
    },
    /// No such record or endpoint.
    #[error("not found: {method} {path}")]
    NotFound {
        /// The method.
        method: String,
        /// The request path.
        path: String,
    },
    /// Coupa kept answering 429 until the retries ran out (or the request was a write, which is
    /// not retried on 429).
    #[error("rate limited: {method} {path} after {attempts} attempt(s)")]
    RateLimited {
        /// The method.
        method: String,
        /// The request path.
        path: String,
        /// The last `Retry-After`, when sent.
        retry_after: Option<Duration>,
        /// Attempts made.
        attempts: u32,
    },
    /// Coupa answered with an error status not covered above (validation errors, 5xx after
    /// retries).
    #[error("{}", .0)]
    Api(Box<ApiError>),
    /// A response body did not match the expected shape.
    #[error("cannot decode {path} at `{json_path}`{}", record_id.map(|id| format!(" (record id {id})")).unwrap_or_default())]
    Decode {
        /// The request path.
        path: String,
        /// Where in the JSON document decoding failed, such as `[3].roles[0].id`.
        json_path: String,
        /// The id of the record that failed, when known.
        record_id: Option<i64>,
        /// The decoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// Coupa answered a call about one record with another record: the answer cannot be about
    /// what was asked, so it is not used.
    #[error("{path}: asked for record {asked}, Coupa answered with record {got}")]
    WrongRecord {
        /// The request path.
        path: String,
        /// The id asked for.
        asked: i64,
        /// The id the answer carried.
        got: i64,
    },
    /// A request body could not be encoded as JSON; nothing was sent.
    #[error("cannot encode the request body for {path}")]
    Encode {
        /// The request path.
        path: String,
        /// The encoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// A list cursor did not move: a paging bug, stopped instead of looped.
    #[error("pagination of {path} did not advance past {cursor}")]
    Pagination {
        /// The request path.
        path: String,
        /// The cursor that repeated.
        cursor: String,
    },
    /// The server answered with a redirect. Redirects are never followed: the request (with its
    /// credentials or token) would go wherever the server points.
    #[error(
        "{method} {path} answered HTTP {status} redirecting to {}; redirects are not followed \
         (check the base URL)",
        location.as_deref().unwrap_or("(no Location)")
    )]
    Redirect {
        /// The method.
        method: String,
        /// The request path.
        path: String,
        /// The 3xx status.
        status: u16,
        /// The `Location` header, when sent.
        location: Option<String>,
    },
    /// The server asked for a wait (`Retry-After`) longer than the configured cap: reported, not
    /// slept.
    #[error(
        "{method} {path}: the server asked to wait {}, more than the {} allowed",
        seconds(asked),
        seconds(allowed)
    )]
    WaitTooLong {
        /// The method.
        method: String,
        /// The request path.
        path: String,
        /// The wait asked for.
        asked: Duration,
        /// The configured cap ([`crate::RetryConfig::max_server_wait`]).
        allowed: Duration,
    },
    /// A response body was larger than the configured cap.
    #[error("{method} {path}: the response body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The method.
        method: String,
        /// The request path.
        path: String,
        /// The cap ([`crate::Config::max_body_bytes`]).
        limit: usize,
    },
    /// The request could not be sent or its response read (connect error, timeout, reset).
    #[error("transport error: {method} {path}")]
    Transport {
        /// The method.
        method: String,
        /// The request path.
        path: String,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
}

fn seconds(d: &Duration) -> String {
    format!("{} s", d.as_secs())
}

/// An error status from the API with Coupa's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The method.
    pub method: String,
    /// The request path.
    pub path: String,
    /// Coupa's messages (the `errors` object, flattened), or the start of a non-JSON body.
    pub messages: Vec<String>,
    /// Attempts made.
    pub attempts: u32,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Coupa answered HTTP {} to {} {}",
            self.status, self.method, self.path
        )?;
        if !self.messages.is_empty() {
            write!(f, ": {}", self.messages.join("; "))?;
        }
        Ok(())
    }
}

impl Error {
    /// The HTTP status behind the error, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Auth { status, .. } => Some(*status),
            Self::Forbidden { .. } => Some(403),
            Self::NotFound { .. } => Some(404),
            Self::RateLimited { .. } => Some(429),
            Self::Api(e) => Some(e.status),
            _ => None,
        }
    }

    /// Whether the error may pass if the call is made again later (rate limits, 5xx, transport).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Transport { .. } => true,
            Self::Api(e) => e.status >= 500,
            _ => false,
        }
    }
}

/// Coupa's messages from an error body: `{"errors":{"user":["Login has already been taken"]}}`
/// (any keys; `null` members tolerated), `{"errors":["..."]}`, or `{"error":"..."}`. A body that
/// is not JSON gives its first 200 characters.
pub(crate) fn error_messages(body: &[u8]) -> Vec<String> {
    fn collect(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            serde_json::Value::Object(map) => map.values().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => {
            for key in ["errors", "error", "error_description", "message"] {
                if let Some(v) = value.get(key) {
                    collect(v, &mut out);
                }
            }
        }
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.trim().chars().take(200).collect();
            if !text.is_empty() {
                out.push(text);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let cases: [(&str, &[&str]); 6] = [
            (
                r#"{"errors":{"user":["Login has already been taken","Email is invalid"]}}"#,
                &["Login has already been taken", "Email is invalid"],
            ),
            (r#"{"errors":{"user":["Bad"],"warnings":null}}"#, &["Bad"]),
            (r#"{"errors":["flat"]}"#, &["flat"]),
            (
                r#"{"error":"invalid_client","error_description":"Client authentication failed"}"#,
                &["invalid_client", "Client authentication failed"],
            ),
            ("<html>Bad gateway</html>", &["<html>Bad gateway</html>"]),
            ("", &[]),
        ];
        for (body, expected) in cases {
            assert_eq!(error_messages(body.as_bytes()), expected, "{body}");
        }
    }
}
