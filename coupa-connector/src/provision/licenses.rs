//! License flags: set the flag, read it back.

use std::sync::Arc;

use async_trait::async_trait;
use connector_sdk::{
    ConnectorError, EntitlementId, Grant, GrantOutcome, Provisioner, ResourceId, RevokeOutcome,
};
use coupa_client::{CoupaClient, Fields, License, UserUpdate};

use super::user_id;
use crate::errors::to_connector;
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
        _ => Err(ConnectorError::NotFound(format!(
            "`{entitlement}` is not a Coupa license entitlement (`license:<flag>:{}`)",
            ids::ASSIGNED
        ))),
    }
}

async fn read(client: &CoupaClient, user: i64, license: &License) -> Result<bool, ConnectorError> {
    let fields = Fields::of(["id", license.key()]);
    let record = client
        .get_user(user, Some(&fields))
        .await
        .map_err(to_connector)?;
    Ok(record.has_license(license))
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
        let client = self.session.writer().await?;
        let _held = self.session.locks.lock(user).await;
        if read(client, user, &license).await? == held {
            return Ok(false);
        }
        let update = UserUpdate::new().license(license.clone(), held);
        let after = match client.update_user(user, &update).await {
            Ok(record) => record.has_license(&license),
            // The response was lost or refused: the flag as it now stands decides.
            Err(error) => {
                let now = read(client, user, &license).await?;
                if now != held {
                    return Err(to_connector(error));
                }
                now
            }
        };
        if after != held {
            return Err(ConnectorError::fatal(format!(
                "Coupa did not apply `{}` = {held} to user {user} (the flag reads {after}; it may \
                 be output-only or not revocable in this tenant)",
                license.key()
            )));
        }
        Ok(true)
    }
}

#[async_trait]
impl Provisioner for LicenseProvisioner {
    async fn grant(
        &self,
        principal: &ResourceId,
        entitlement: &EntitlementId,
    ) -> Result<GrantOutcome, ConnectorError> {
        Ok(if self.set(principal, entitlement, true).await? {
            GrantOutcome::Granted
        } else {
            GrantOutcome::AlreadyGranted
        })
    }

    async fn revoke(&self, grant: &Grant) -> Result<RevokeOutcome, ConnectorError> {
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
