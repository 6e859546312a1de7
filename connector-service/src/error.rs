//! Errors as HTTP answers: `{"error": {"kind", "message"}}` with a status that says whose fault
//! it is. Messages come from the SDK and the connector, which never hold a secret.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use connector_sdk::{ConnectorError, Error, ErrorKind};
use serde_json::json;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, machine-readable kind, such as `bad_request` or `upstream_unavailable`.
    pub kind: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// How long to wait before trying again (429 and 503).
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// An error with `status`, `kind` and `message`.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400: the request itself is wrong (a bad id, bad JSON, bad arguments).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

/// How long a client should wait after an upstream outage when the upstream did not say.
const UNAVAILABLE_RETRY: Duration = Duration::from_secs(30);

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let message = connector_sdk::error_chain(&error);
        match &error {
            Error::Argument(_) => Self::bad_request(message),
            Error::Unsupported { .. } | Error::UnknownAction(_) => Self::not_found(message),
            Error::AccountCreationUnsupported => Self::not_found(message),
            Error::InProgress { .. } => {
                Self::new(StatusCode::CONFLICT, "sync_in_progress", message)
            }
            Error::OtherFingerprint { .. } => {
                Self::new(StatusCode::CONFLICT, "other_tenant", message)
            }
            Error::Operation { source, .. } | Error::Connector { source, .. } => {
                from_connector(source, message)
            }
            Error::RetriesExhausted { .. } => Self {
                retry_after: Some(UNAVAILABLE_RETRY),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "upstream_unavailable",
                    message,
                )
            },
            _ => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message),
        }
    }
}

/// The answer to an operation that failed with `source`: the status is the kind's
/// ([`connector_sdk::ErrorKind::http_status`], the one place kinds map to statuses), the kind
/// names who refused.
fn from_connector(source: &ConnectorError, message: String) -> ApiError {
    let kind = source.kind();
    let status = StatusCode::from_u16(kind.http_status()).unwrap_or(StatusCode::BAD_GATEWAY);
    let (name, retry_after) = match kind {
        ErrorKind::InvalidArgument => ("invalid_argument", None),
        ErrorKind::NotFound => ("not_found", None),
        ErrorKind::RateLimited => (
            "upstream_rate_limited",
            Some(source.retry_after().unwrap_or(UNAVAILABLE_RETRY)),
        ),
        ErrorKind::Transient | ErrorKind::RetriedByConnector => {
            ("upstream_unavailable", Some(UNAVAILABLE_RETRY))
        }
        ErrorKind::Unauthenticated | ErrorKind::PermissionDenied => ("upstream_refused", None),
        _ => ("upstream_failure", None),
    };
    ApiError {
        retry_after,
        ..ApiError::new(status, name, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"kind": self.kind, "message": self.message}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(wait) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
