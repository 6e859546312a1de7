//! The requests a host makes of a connector's write capabilities. Each is `#[non_exhaustive]`
//! with a constructor, so a field added later (a grant's expiry, the caller's identity) breaks
//! no connector.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use super::Arguments;
use crate::error::ConnectorError;
use crate::journal::{IntentDraft, IntentGuard, WriteJournal};
use crate::model::{Annotation, EntitlementId, Grant, ResourceId};

/// Per-call state a host hands down with a request.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CallContext {
    /// Who asked, as the host knows them (for the connector's own logs).
    pub actor: Option<String>,
    /// Cancelled when the caller gives up. A connector may stop early on it, but never between
    /// the steps of a write that must finish whole.
    pub cancel: CancellationToken,
    /// The journal the registry attached ([`crate::Registry::with_journal`]).
    journal: Option<WriteJournal>,
}

impl CallContext {
    /// Sets who asked.
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Sets the cancellation token.
    pub fn with_cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Sets the journal (the registry does this for every write it dispatches).
    pub fn with_journal(mut self, journal: WriteJournal) -> Self {
        self.journal = Some(journal);
        self
    }

    /// The journal, when the host attached one.
    pub fn journal(&self) -> Option<&WriteJournal> {
        self.journal.as_ref()
    }

    /// Records what a write that takes more than one request is about to change, before its
    /// first request: call it once the "before" state is read, and call
    /// [`IntentGuard::done`] after the verifying read. Without a journal (a host that attached
    /// none) nothing is recorded and a warning says that an interruption could not be repaired.
    /// An error means nothing could be recorded: write nothing.
    pub async fn begin_intent(&self, draft: IntentDraft) -> Result<IntentGuard, ConnectorError> {
        match &self.journal {
            Some(journal) => journal.begin(draft, self.actor.clone()).await,
            None => {
                tracing::warn!(
                    principal = %draft.principal,
                    entitlement = %draft.entitlement,
                    "no write journal is attached: if this process dies between the requests \
                     of this write, nothing can repair it"
                );
                Ok(IntentGuard::unrecorded())
            }
        }
    }
}

/// Give `principal` the entitlement `entitlement`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GrantRequest {
    /// Who receives it.
    pub principal: ResourceId,
    /// What is granted.
    pub entitlement: EntitlementId,
    /// For how long, when the grant is temporary (a connector that cannot expire grants
    /// refuses a duration rather than ignore it).
    pub duration: Option<Duration>,
    /// Annotations the host attaches.
    pub annotations: Vec<Annotation>,
    /// Per-call state.
    pub context: CallContext,
}

impl GrantRequest {
    /// A grant of `entitlement` to `principal`, permanent, without annotations.
    pub fn new(principal: ResourceId, entitlement: EntitlementId) -> Self {
        Self {
            principal,
            entitlement,
            duration: None,
            annotations: Vec::new(),
            context: CallContext::default(),
        }
    }

    /// Makes the grant temporary.
    pub fn with_duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }

    /// Adds an annotation.
    pub fn with_annotation(mut self, annotation: Annotation) -> Self {
        self.annotations.push(annotation);
        self
    }

    /// Sets the per-call state.
    pub fn with_context(mut self, context: CallContext) -> Self {
        self.context = context;
        self
    }

    /// Refuses a temporary grant, for a connector whose grants do not expire: a duration
    /// silently ignored would leave access in place past the time it was asked for.
    pub fn require_permanent(&self) -> Result<(), ConnectorError> {
        match self.duration {
            None => Ok(()),
            Some(_) => Err(ConnectorError::invalid_argument(
                "this connector's grants do not expire: a grant with a duration is refused",
            )),
        }
    }
}

/// Take a grant away.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RevokeRequest {
    /// The grant.
    pub grant: Grant,
    /// Annotations the host attaches.
    pub annotations: Vec<Annotation>,
    /// Per-call state.
    pub context: CallContext,
}

impl RevokeRequest {
    /// A revoke of `grant`.
    pub fn new(grant: Grant) -> Self {
        Self {
            grant,
            annotations: Vec::new(),
            context: CallContext::default(),
        }
    }

    /// Adds an annotation.
    pub fn with_annotation(mut self, annotation: Annotation) -> Self {
        self.annotations.push(annotation);
        self
    }

    /// Sets the per-call state.
    pub fn with_context(mut self, context: CallContext) -> Self {
        self.context = context;
        self
    }
}

/// Create an account from fields the SDK validated against the declared schema.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CreateAccountRequest {
    /// The validated fields.
    pub fields: Arguments,
    /// Per-call state.
    pub context: CallContext,
}

impl CreateAccountRequest {
    /// A creation from validated `fields`.
    pub fn new(fields: Arguments, context: CallContext) -> Self {
        Self { fields, context }
    }
}

/// Run an action with arguments the SDK validated against its schema.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ActionRequest {
    /// The validated arguments.
    pub arguments: Arguments,
    /// Per-call state.
    pub context: CallContext,
}

impl ActionRequest {
    /// A run with validated `arguments`.
    pub fn new(arguments: Arguments, context: CallContext) -> Self {
        Self { arguments, context }
    }
}

/// What an action returns: a JSON object, built from any value that serialises as one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ActionResult(Map<String, Value>);

impl ActionResult {
    /// The result `value` serialises to, which must be a JSON object.
    pub fn new(value: &impl Serialize) -> Result<Self, ConnectorError> {
        match serde_json::to_value(value) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(other) => Err(ConnectorError::fatal(format!(
                "an action result must serialise as a JSON object, not {}",
                match other {
                    Value::Null => "null",
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    Value::String(_) => "a string",
                    Value::Array(_) => "an array",
                    Value::Object(_) => "an object",
                }
            ))),
            Err(error) => Err(ConnectorError::fatal_with(
                "the action result does not serialise",
                error,
            )),
        }
    }

    /// One field of the result.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// The result as a JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The result as a JSON object, owned.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_results_are_objects_from_typed_values() {
        #[derive(Serialize)]
        struct Done {
            user_id: String,
            changed: bool,
        }
        let result = ActionResult::new(&Done {
            user_id: "7".into(),
            changed: true,
        })
        .unwrap();
        assert_eq!(result.get("changed"), Some(&Value::Bool(true)));
        assert_eq!(
            serde_json::to_string(&result).unwrap(),
            r#"{"changed":true,"user_id":"7"}"#
        );
        let err = ActionResult::new(&vec![1]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "an action result must serialise as a JSON object, not an array"
        );
    }
}
