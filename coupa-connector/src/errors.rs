//! coupa-client errors as the SDK's connector errors.

use connector_sdk::ConnectorError;
use coupa_client::Error;

/// Maps a client error to what the engine should do with it. The client owns HTTP-level
/// retries: a rate limit, a transport failure or a 5xx that reaches here has already been
/// retried as far as the client's policy allows (or the server asked for a wait past its cap),
/// so it is [`ConnectorError::Unavailable`]: the engine does not retry it again and the run stays
/// resumable. Everything else stops the run. The message keeps the client's text, which never
/// holds a secret.
pub(crate) fn to_connector(error: Error) -> ConnectorError {
    let message = error.to_string();
    match error {
        Error::RateLimited { .. } | Error::Transport { .. } | Error::WaitTooLong { .. } => {
            ConnectorError::unavailable(message, error)
        }
        Error::Api(ref api) if api.status >= 500 => ConnectorError::unavailable(message, error),
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
