//! The audit trail: every change of access asked for through an interface (an HTTP API, a CLI)
//! as one structured event.

use crate::error::{Error, error_chain};
use crate::model::{EntitlementId, ResourceId};

/// The `tracing` target of audit events: route it to where audit logs must go.
pub const AUDIT_TARGET: &str = "audit";

/// One audit event: who asked, through which interface, for what change, and how it ended.
/// Emitted once, when the outcome is known, on [`AUDIT_TARGET`]: at info level when something
/// changed or the change failed, at debug level when there was nothing to change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Audit {
    /// The interface the request came through, such as `http` or `cli`.
    pub interface: &'static str,
    /// Who asked, as the interface knows them (the HTTP peer, the OS user).
    pub actor: String,
    /// `grant`, `revoke`, `create_account` or `action`.
    pub operation: &'static str,
    /// The entitlement of a grant or revoke.
    pub entitlement: Option<String>,
    /// The principal of a grant or revoke.
    pub principal: Option<String>,
    /// The action's name.
    pub action: Option<String>,
    /// What happened, in a sentence, where the fields above do not say it all (a repair says
    /// what it restored).
    pub detail: Option<String>,
}

impl Audit {
    /// An event of `operation` through `interface`, actor unknown until set.
    pub fn new(interface: &'static str, operation: &'static str) -> Self {
        Self {
            interface,
            actor: "unknown".to_owned(),
            operation,
            entitlement: None,
            principal: None,
            action: None,
            detail: None,
        }
    }

    /// Sets who asked.
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    /// Sets the entitlement.
    pub fn with_entitlement(mut self, entitlement: &EntitlementId) -> Self {
        self.entitlement = Some(entitlement.to_string());
        self
    }

    /// Sets the principal.
    pub fn with_principal(mut self, principal: &ResourceId) -> Self {
        self.principal = Some(principal.to_string());
        self
    }

    /// Sets the action's name.
    pub fn with_action(mut self, action: &str) -> Self {
        self.action = Some(action.to_owned());
        self
    }

    /// Sets the sentence that says what happened.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Emits the event for an operation that ended with `outcome` (such as `granted` or
    /// `already_granted`); `changed` says whether access changed.
    pub fn succeeded(&self, outcome: &str, changed: bool) {
        if changed {
            tracing::info!(target: AUDIT_TARGET, interface = self.interface, actor = %self.actor,
                operation = self.operation, entitlement = self.entitlement.as_deref(),
                principal = self.principal.as_deref(), action = self.action.as_deref(),
                detail = self.detail.as_deref(), outcome, changed, "access changed");
        } else {
            tracing::debug!(target: AUDIT_TARGET, interface = self.interface, actor = %self.actor,
                operation = self.operation, entitlement = self.entitlement.as_deref(),
                principal = self.principal.as_deref(), action = self.action.as_deref(),
                detail = self.detail.as_deref(), outcome, changed, "nothing to change");
        }
    }

    /// Emits the event for an operation that failed with `error`.
    pub fn failed(&self, error: &Error) {
        tracing::info!(target: AUDIT_TARGET, interface = self.interface, actor = %self.actor,
            operation = self.operation, entitlement = self.entitlement.as_deref(),
            principal = self.principal.as_deref(), action = self.action.as_deref(),
            outcome = "failed", error = %error_chain(error), "access change failed");
    }
}
