//! [`Provisioner`]: granting and revoking entitlements.

use async_trait::async_trait;

use super::{GrantRequest, RevokeRequest};
use crate::error::ConnectorError;
use crate::journal::{RepairRequest, Repaired};
use crate::model::Grant;

/// What a grant call did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GrantOutcome {
    /// The principal now holds the entitlement: the grants the connector made, as it would sync
    /// them (usually one; hosts report these, never grants of their own making).
    #[non_exhaustive]
    Granted {
        /// The grants made.
        grants: Vec<Grant>,
    },
    /// The principal already held it; nothing was written.
    AlreadyGranted,
}

impl GrantOutcome {
    /// The principal now holds the entitlement through `grants`.
    pub fn granted(grants: Vec<Grant>) -> Self {
        Self::Granted { grants }
    }

    /// Whether access changed.
    pub fn is_granted(&self) -> bool {
        matches!(self, Self::Granted { .. })
    }

    /// The grants made (none when nothing was written).
    pub fn grants(&self) -> &[Grant] {
        match self {
            Self::Granted { grants } => grants,
            Self::AlreadyGranted => &[],
        }
    }
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

    /// The slugs of the entitlements it grants and revokes (`member`, ...), for the manifest.
    /// Defaults to none said.
    fn entitlement_slugs(&self) -> Vec<String> {
        Vec::new()
    }

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
