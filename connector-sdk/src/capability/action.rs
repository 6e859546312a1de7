//! Custom actions: named operations with a typed argument schema.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{ActionRequest, ActionResult, FieldSpec};
use crate::error::ConnectorError;

/// The declaration of an action: what it is called, what it does, what it takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActionSchema {
    /// The name hosts call it by, such as `enable_user`.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Its arguments.
    pub arguments: Vec<FieldSpec>,
}

impl ActionSchema {
    /// A schema from a name, description and arguments.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        arguments: Vec<FieldSpec>,
    ) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            arguments,
        }
    }
}

/// A custom action. The SDK validates arguments against [`Action::schema`] before calling
/// [`Action::run`].
#[async_trait]
pub trait Action: Send + Sync {
    /// The action's declaration.
    fn schema(&self) -> ActionSchema;

    /// Runs the action with validated arguments (`request.arguments`).
    async fn run(&self, request: ActionRequest) -> Result<ActionResult, ConnectorError>;
}
