//! [`Provisioner`]: granting and revoking entitlements.

use async_trait::async_trait;

use crate::error::ConnectorError;
use crate::model::{EntitlementId, Grant, ResourceId};

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
    /// Gives `principal` the entitlement `entitlement`.
    async fn grant(
        &self,
        principal: &ResourceId,
        entitlement: &EntitlementId,
    ) -> Result<GrantOutcome, ConnectorError>;

    /// Takes the grant away.
    async fn revoke(&self, grant: &Grant) -> Result<RevokeOutcome, ConnectorError>;
}
