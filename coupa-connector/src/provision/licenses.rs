//! License flags: set the flag, read it back.

use std::sync::Arc;

use async_trait::async_trait;
use connector_sdk::{
    ConnectorError, EntitlementId, GrantOutcome, GrantRequest, Provisioner, ResourceId,
    RevokeOutcome, RevokeRequest,
};
use coupa_client::License;

use super::converge::{Converged, Flag, Target};
use super::user_id;
use crate::ids;
use crate::session::Session;

pub(crate) struct LicenseProvisioner {
    pub(crate) session: Arc<Session>,
}

fn license(entitlement: &EntitlementId) -> Result<License, ConnectorError> {
    let known = License::from_key(&entitlement.resource.id)
        .filter(|l| License::ALL.contains(l) && l.key() == entitlement.resource.id);
    match known {
        Some(license) if entitlement.slug == ids::ASSIGNED => Ok(license),
        _ => Err(ConnectorError::not_found(format!(
            "`{entitlement}` is not a Coupa license entitlement (`license:<flag>:{}`)",
            ids::ASSIGNED
        ))),
    }
}

impl LicenseProvisioner {
    /// Sets the flag to `held` unless it already is; returns whether a write was made.
    async fn set(
        &self,
        principal: &ResourceId,
        entitlement: &EntitlementId,
        held: bool,
    ) -> Result<bool, ConnectorError> {
        let license = license(entitlement)?;
        let user = user_id(principal)?;
        let client = self.session.writer(false).await?.clone();
        let _held = self.session.locks.lock(user).await;
        let target = Target {
            client,
            user,
            attribute: Flag(license),
        };
        match target.converge(|now| *now == held, |_| held).await? {
            Converged::Already => Ok(false),
            Converged::Changed => Ok(true),
            Converged::NotApplied { answer, .. } => Err(ConnectorError::fatal(format!(
                "Coupa did not apply `{}` = {held} to user {user} (the flag reads {answer}; it \
                 may be output-only or not revocable in this tenant)",
                target.key()
            ))),
        }
    }
}

#[async_trait]
impl Provisioner for LicenseProvisioner {
    fn entitlement_slugs(&self) -> Vec<String> {
        vec![crate::ids::ASSIGNED.to_owned()]
    }

    async fn grant(&self, request: GrantRequest) -> Result<GrantOutcome, ConnectorError> {
        request.require_permanent()?;
        Ok(
            if self
                .set(&request.principal, &request.entitlement, true)
                .await?
            {
                GrantOutcome::granted(vec![connector_sdk::Grant::new(
                    request.entitlement.clone(),
                    request.principal.clone(),
                )])
            } else {
                GrantOutcome::AlreadyGranted
            },
        )
    }

    async fn revoke(&self, request: RevokeRequest) -> Result<RevokeOutcome, ConnectorError> {
        let grant = &request.grant;
        Ok(
            if self
                .set(&grant.principal, &grant.entitlement, false)
                .await?
            {
                RevokeOutcome::Revoked
            } else {
                RevokeOutcome::AlreadyRevoked
            },
        )
    }
}
