//! coupa-client errors as the SDK's connector errors.

use connector_sdk::ConnectorError;
use coupa_client::Error;

/// Maps a client error to what the engine should do with it, keeping the client's error as the
/// source: a host recovers the HTTP status, the missing scope and Coupa's messages with
/// `downcast_ref::<coupa_client::Error>()`, and the message says only what it adds.
///
/// The client owns HTTP-level retries: a rate limit, a transport failure or a 5xx that reaches
/// here has already been retried as far as the client's policy allows (or the server asked for
/// a wait past its cap), so it is [`connector_sdk::ErrorKind::RetriedByConnector`]: the engine does not retry it
/// again and the run stays resumable. Everything else stops the run.
pub(crate) fn to_connector(error: Error) -> ConnectorError {
    match error {
        Error::RateLimited { .. } | Error::Transport { .. } | Error::WaitTooLong { .. } => {
            ConnectorError::retried_by_connector(
                "Coupa stayed unavailable through the client's retries",
                error,
            )
        }
        Error::Api(ref api) if api.status >= 500 => ConnectorError::retried_by_connector(
            "Coupa stayed unavailable through the client's retries",
            error,
        ),
        Error::Auth { .. } => {
            ConnectorError::unauthenticated("Coupa refused the OAuth client").with_source(error)
        }
        Error::Forbidden { .. } => {
            ConnectorError::permission_denied("Coupa refused the call").with_source(error)
        }
        Error::NotFound { .. } => {
            ConnectorError::not_found("Coupa has no such record").with_source(error)
        }
        Error::Api(_) => {
            ConnectorError::invalid_argument("Coupa refused the request").with_source(error)
        }
        Error::InvalidDomain { .. } | Error::InvalidConfig { .. } => {
            ConnectorError::invalid_argument("the Coupa configuration is invalid")
                .with_source(error)
        }
        _ => ConnectorError::fatal_with("Coupa's answer could not be used", error),
    }
}
