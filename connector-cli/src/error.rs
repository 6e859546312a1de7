//! [`CliError`]: what a command prints and exits with when it fails.

use connector_sdk::{BoxError, ErrorKind};
use serde_json::json;

/// A failed command: a usage or configuration error (exit 2) or a failed operation (exit 1),
/// with its message, the error that caused it (its [`source`](std::error::Error::source)), and
/// the connector's [`ErrorKind`] when the connector refused or failed.
#[derive(Debug)]
#[non_exhaustive]
pub struct CliError {
    usage: bool,
    message: String,
    kind: Option<ErrorKind>,
    source: Option<BoxError>,
}

impl CliError {
    /// Usage or configuration (or a request refused as invalid): exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            usage: true,
            message: message.into(),
            kind: None,
            source: None,
        }
    }

    /// The operation failed: exit 1.
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            usage: false,
            message: message.into(),
            kind: None,
            source: None,
        }
    }

    /// Keeps `source` as the cause (printed after the message, reachable by
    /// [`source`](std::error::Error::source) and `downcast_ref`).
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Whether it is a usage or configuration error (exit 2).
    pub fn is_usage(&self) -> bool {
        self.usage
    }

    /// The process exit code: 2 for usage or configuration, 1 when the operation failed.
    pub fn exit_code(&self) -> u8 {
        if self.usage { 2 } else { 1 }
    }

    /// The message, without its causes.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The kind of an SDK or connector failure (`not_found`, `permission_denied`,
    /// `unsupported`, ...); `None` for the program's own errors.
    pub fn kind(&self) -> Option<ErrorKind> {
        self.kind
    }

    /// The message and its causes on one line, as the program prints it.
    pub fn chain(&self) -> String {
        connector_sdk::error_chain(self)
    }

    /// The error as `--json` prints it: `{"outcome": "error", "error": {"kind", "message"}}`,
    /// `kind` being `usage` or `failed`, with `"code"` (the SDK's [`ErrorKind`], such as
    /// `not_found`) when the SDK or the connector refused or failed.
    pub fn to_json(&self) -> serde_json::Value {
        let kind = if self.usage { "usage" } else { "failed" };
        let mut error = json!({"kind": kind, "message": self.chain()});
        if let Some(code) = self.kind {
            error["code"] = json!(code.as_str());
        }
        json!({"outcome": "error", "error": error})
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// An SDK error keeps its kind ([`connector_sdk::Error::kind`]), the exit code the kind maps to,
/// and itself as the source.
impl From<connector_sdk::Error> for CliError {
    fn from(error: connector_sdk::Error) -> Self {
        let kind = Some(error.kind());
        let cli = match error.exit_code() {
            2 => Self::usage(error.to_string()),
            _ => Self::failed(error.to_string()),
        };
        Self {
            kind,
            ..cli.with_source(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connector_failure_keeps_its_kind_and_cause() {
        let refused = connector_sdk::ConnectorError::not_found("no user 9");
        let error = CliError::from(connector_sdk::Error::Operation {
            operation: "grant role:1:member to user:9".into(),
            source: refused,
        });
        assert_eq!(error.exit_code(), 1);
        assert_eq!(error.kind(), Some(ErrorKind::NotFound));
        assert_eq!(error.message(), "grant role:1:member to user:9 failed");
        let sdk = std::error::Error::source(&error)
            .and_then(|s| s.downcast_ref::<connector_sdk::Error>())
            .expect("the SDK's error");
        assert!(matches!(sdk, connector_sdk::Error::Operation { .. }));
        assert_eq!(
            error.to_json(),
            json!({"outcome": "error", "error": {
                "kind": "failed",
                "code": "not_found",
                "message": error.chain(),
            }})
        );
        assert!(error.chain().ends_with("no user 9"), "{}", error.chain());
    }

    #[test]
    fn the_programs_own_errors_have_no_kind() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let error = CliError::failed("cannot write out.json").with_source(io);
        assert_eq!(error.kind(), None);
        assert_eq!(error.chain(), "cannot write out.json: denied");
        assert_eq!(
            error.to_json(),
            json!({"outcome": "error", "error": {
                "kind": "failed",
                "message": "cannot write out.json: denied",
            }})
        );
        assert_eq!(CliError::usage("bad flag").exit_code(), 2);
    }
}
