//! coupa-client errors as the SDK's connector errors.

use connector_sdk::ConnectorError;
use coupa_client::Error;

/// Maps a client error to what the engine should do with it: wait (rate limited), retry
/// (transport, 5xx) or stop (everything else). The message keeps the client's text, which never
/// holds a secret.
pub(crate) fn to_connector(error: Error) -> ConnectorError {
    let message = error.to_string();
    match error {
        Error::RateLimited { retry_after, .. } => ConnectorError::RateLimited { retry_after },
        Error::Transport { .. } => ConnectorError::transient(message, error),
        Error::Api(ref api) if api.status >= 500 => ConnectorError::transient(message, error),
        Error::Auth { .. } => ConnectorError::Unauthenticated(message),
        Error::Forbidden { .. } => ConnectorError::PermissionDenied(message),
        // The variant already says "not found": keep only what was not found.
        Error::NotFound { method, path } => ConnectorError::NotFound(format!("{method} {path}")),
        Error::Api(_) | Error::InvalidDomain { .. } | Error::InvalidConfig { .. } => {
            ConnectorError::InvalidArgument(message)
        }
        _ => ConnectorError::fatal_with(message, error),
    }
}
