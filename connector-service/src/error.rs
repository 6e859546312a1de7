//! Errors as HTTP answers: `{"error": {"kind", "message"}}` with a status that says whose fault
//! it is. Messages come from the SDK and the connector, which never hold a secret.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use connector_sdk::{Error, ErrorKind};
use serde_json::json;

/// What kind of error an answer is, as its `kind` field says it: stable, for machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiErrorKind {
    /// `bad_request`
    BadRequest,
    /// `unauthorized`
    Unauthorized,
    /// `not_found`
    NotFound,
    /// `sync_in_progress`
    SyncInProgress,
    /// `already_exists`
    AlreadyExists,
    /// `conflict`: the change conflicts with what the upstream service holds
    Conflict,
    /// `other_tenant`
    OtherTenant,
    /// `page_token_stale`
    PageTokenStale,
    /// `payload_too_large`
    PayloadTooLarge,
    /// `invalid_argument`
    InvalidArgument,
    /// `upstream_rate_limited`
    UpstreamRateLimited,
    /// `upstream_unavailable`
    UpstreamUnavailable,
    /// `upstream_refused`
    UpstreamRefused,
    /// `upstream_failure`
    UpstreamFailure,
    /// `shutting_down`
    ShuttingDown,
    /// `store`
    Store,
    /// `internal`
    Internal,
}

impl ApiErrorKind {
    /// The wire form, such as `bad_request`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not_found",
            Self::SyncInProgress => "sync_in_progress",
            Self::AlreadyExists => "already_exists",
            Self::Conflict => "conflict",
            Self::OtherTenant => "other_tenant",
            Self::PageTokenStale => "page_token_stale",
            Self::PayloadTooLarge => "payload_too_large",
            Self::InvalidArgument => "invalid_argument",
            Self::UpstreamRateLimited => "upstream_rate_limited",
            Self::UpstreamUnavailable => "upstream_unavailable",
            Self::UpstreamRefused => "upstream_refused",
            Self::UpstreamFailure => "upstream_failure",
            Self::ShuttingDown => "shutting_down",
            Self::Store => "store",
            Self::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ApiErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, machine-readable kind.
    pub kind: ApiErrorKind,
    /// What went wrong, for people.
    pub message: String,
    /// How long to wait before trying again (429 and 503).
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// An error with `status`, `kind` and `message`.
    pub fn new(status: StatusCode, kind: ApiErrorKind, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400: the request itself is wrong (a bad id, bad JSON, bad arguments).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ApiErrorKind::BadRequest, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ApiErrorKind::NotFound, message)
    }
}

/// How long a client should wait after an upstream outage when the upstream did not say.
const UNAVAILABLE_RETRY: Duration = Duration::from_secs(30);

/// The HTTP service's map of the SDK's one classification ([`Error::kind`]): the status is the
/// kind's ([`ErrorKind::http_status`]), the name says who refused.
impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let message = connector_sdk::error_chain(&error);
        let kind = error.kind();
        let status = StatusCode::from_u16(kind.http_status()).unwrap_or(StatusCode::BAD_GATEWAY);
        let upstream_wait = match &error {
            Error::Connector { source, .. } | Error::Operation { source, .. } => {
                source.retry_after()
            }
            _ => None,
        };
        // Values that fail the declared schema never reached the connector: the request is
        // malformed (400), where values the connector refused are unprocessable (422).
        if let Error::Argument(_) = &error {
            return Self::bad_request(message);
        }
        let (name, retry_after) = match kind {
            ErrorKind::InvalidArgument => (ApiErrorKind::InvalidArgument, None),
            ErrorKind::NotFound | ErrorKind::Unsupported => (ApiErrorKind::NotFound, None),
            ErrorKind::Conflict => (ApiErrorKind::Conflict, None),
            ErrorKind::Busy => (ApiErrorKind::SyncInProgress, None),
            ErrorKind::OtherTenant => (ApiErrorKind::OtherTenant, None),
            ErrorKind::Cancelled => (ApiErrorKind::ShuttingDown, Some(UNAVAILABLE_RETRY)),
            ErrorKind::RateLimited => (
                ApiErrorKind::UpstreamRateLimited,
                Some(upstream_wait.unwrap_or(UNAVAILABLE_RETRY)),
            ),
            ErrorKind::Transient | ErrorKind::RetriedByConnector => {
                (ApiErrorKind::UpstreamUnavailable, Some(UNAVAILABLE_RETRY))
            }
            ErrorKind::Unauthenticated | ErrorKind::PermissionDenied => {
                (ApiErrorKind::UpstreamRefused, None)
            }
            ErrorKind::Fatal => (ApiErrorKind::UpstreamFailure, None),
            _ => (ApiErrorKind::Internal, None),
        };
        ApiError {
            retry_after,
            ..ApiError::new(status, name, message)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"kind": self.kind.as_str(), "message": self.message}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(wait) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
