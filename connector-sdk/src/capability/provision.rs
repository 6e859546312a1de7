//! [`Provisioner`]: granting and revoking entitlements.

use async_trait::async_trait;

use super::{GrantRequest, RevokeRequest};
use crate::error::ConnectorError;
use crate::journal::{RepairRequest, Repaired};

/// What a grant call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GrantOutcome {
    /// The principal now holds the entitlement.
    Granted,
    /// The principal already held it; nothing was written.
    AlreadyGranted,
}

/// What a revoke call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RevokeOutcome {
    /// The principal no longer holds the entitlement.
    Revoked,
    /// The principal did not hold it; nothing was written.
    AlreadyRevoked,
}

/// Grants and revokes the entitlements of one resource type.
#[async_trait]
pub trait Provisioner: Send + Sync {
    /// Gives `request.principal` the entitlement `request.entitlement`.
    async fn grant(&self, request: GrantRequest) -> Result<GrantOutcome, ConnectorError>;

    /// Takes `request.grant` away.
    async fn revoke(&self, request: RevokeRequest) -> Result<RevokeOutcome, ConnectorError>;

    /// Finishes a write of this provisioner that was interrupted between its requests (see
    /// [`crate::journal`]): read the attribute now; put back every resource the intent's
    /// `before` held except the one revoked (or add the one granted); never remove what is
    /// there now and was not part of the change; verify by a read. A provisioner that records
    /// intents implements it; the default refuses.
    async fn repair(&self, request: RepairRequest) -> Result<Repaired, ConnectorError> {
        Err(ConnectorError::fatal(format!(
            "the provisioner recorded {} but cannot repair it",
            request.intent.intent
        )))
    }
}
