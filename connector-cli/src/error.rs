//! What a command fails with, and the exit code it maps to.

use serde_json::json;

/// A failure, with the exit code it maps to: 2 for usage or configuration, 1 when the operation
/// failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// Usage or configuration (or a request refused as invalid): exit 2.
    Usage(String),
    /// The operation failed: exit 1.
    Failed(String),
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Failed(_) => 1,
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Self::Usage(m) | Self::Failed(m) => m,
        }
    }

    /// The error as `--json` prints it: `{"outcome": "error", "error": {"kind", "message"}}`.
    pub fn to_json(&self) -> serde_json::Value {
        let kind = match self {
            Self::Usage(_) => "usage",
            Self::Failed(_) => "failed",
        };
        json!({"outcome": "error", "error": {"kind": kind, "message": self.message()}})
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for CliError {}

/// An SDK error keeps its exit code ([`connector_sdk::Error::exit_code`]) and its chain of
/// sources on one line.
impl From<connector_sdk::Error> for CliError {
    fn from(error: connector_sdk::Error) -> Self {
        let message = connector_sdk::error_chain(&error);
        match error.exit_code() {
            2 => Self::Usage(message),
            _ => Self::Failed(message),
        }
    }
}
