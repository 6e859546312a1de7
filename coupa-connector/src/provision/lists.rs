//! Group, role, account-group and content-group membership: full-list writes to the user.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use connector_sdk::{
    ConnectorError, EntitlementId, Grant, GrantOutcome, Provisioner, ResourceId, RevokeOutcome,
};
use coupa_client::{CoupaClient, Fields, User, UserUpdate};

use super::{parse_id, user_id};
use crate::errors::to_connector;
use crate::ids;
use crate::session::Session;
use crate::sync::Kind;

impl Kind {
    /// The user's JSON key for this list.
    fn key(self) -> &'static str {
        match self {
            Self::Group => "user-groups",
            Self::Role => "roles",
            Self::AccountGroup => "account-groups",
            Self::ContentGroup => "content-groups",
        }
    }

    fn ids(self, user: &User) -> BTreeSet<i64> {
        let list = match self {
            Self::Group => &user.user_groups,
            Self::Role => &user.roles,
            Self::AccountGroup => &user.account_groups,
            Self::ContentGroup => &user.content_groups,
        };
        list.iter().map(|r| r.id).collect()
    }

    fn update(self, ids: &BTreeSet<i64>) -> UserUpdate {
        let ids = ids.iter().copied();
        match self {
            Self::Group => UserUpdate::new().user_groups(ids),
            Self::Role => UserUpdate::new().roles(ids),
            Self::AccountGroup => UserUpdate::new().account_groups(ids),
            Self::ContentGroup => UserUpdate::new().content_groups(ids),
        }
    }
}

fn show(ids: &BTreeSet<i64>) -> String {
    let list: Vec<String> = ids.iter().map(ToString::to_string).collect();
    format!("[{}]", list.join(", "))
}

/// Grants and revokes membership of one group-like resource type.
pub(crate) struct ListProvisioner {
    pub(crate) session: Arc<Session>,
    pub(crate) kind: Kind,
}

/// One user's list, read and written.
struct Target<'a> {
    client: &'a CoupaClient,
    kind: Kind,
    user: i64,
}

impl Target<'_> {
    async fn read(&self) -> Result<BTreeSet<i64>, ConnectorError> {
        let fields = Fields::of(["id"]).nested(self.kind.key(), Fields::of(["id"]));
        let user = self
            .client
            .get_user(self.user, Some(&fields))
            .await
            .map_err(to_connector)?;
        Ok(self.kind.ids(&user))
    }

    /// Writes `ids`; returns the list Coupa answered with, or the write's error.
    async fn write(&self, ids: &BTreeSet<i64>) -> Result<BTreeSet<i64>, coupa_client::Error> {
        let user = self
            .client
            .update_user(self.user, &self.kind.update(ids))
            .await?;
        Ok(self.kind.ids(&user))
    }

    /// Writes `ids`. On a failed write, re-reads: a write whose response was lost may have
    /// been applied. Returns the list as it now stands, or the write's error when the re-read
    /// shows it was not applied.
    async fn write_and_check(&self, ids: &BTreeSet<i64>) -> Result<BTreeSet<i64>, ConnectorError> {
        match self.write(ids).await {
            Ok(now) => Ok(now),
            Err(error) => {
                let now = self.read().await?;
                if &now == ids {
                    tracing::warn!(
                        user = self.user,
                        list = self.kind.key(),
                        "write applied though its response failed"
                    );
                    Ok(now)
                } else {
                    Err(to_connector(error))
                }
            }
        }
    }

    fn what(&self) -> String {
        format!("user {}'s {}", self.user, self.kind.key())
    }

    /// Adds `id`. The list is the only state touched.
    async fn add(&self, id: i64) -> Result<GrantOutcome, ConnectorError> {
        let before = self.read().await?;
        if before.contains(&id) {
            return Ok(GrantOutcome::AlreadyGranted);
        }
        let mut intended = before.clone();
        intended.insert(id);
        let after = self.write_and_check(&intended).await?;
        if !after.contains(&id) {
            return Err(ConnectorError::NotFound(format!(
                "Coupa ignored {} id {id} when writing {} (it does not exist); {} is unchanged",
                self.kind.key(),
                self.what(),
                show(&after)
            )));
        }
        if !before.is_subset(&after) {
            return Err(ConnectorError::fatal(format!(
                "after adding {id}, {} is {} where {} was expected",
                self.what(),
                show(&after),
                show(&intended)
            )));
        }
        Ok(GrantOutcome::Granted)
    }

    /// Removes `id`: a plain full-list write, or Coupa's documented clear-then-set for roles
    /// and for any list where the plain write left the id in place.
    async fn remove(&self, id: i64) -> Result<RevokeOutcome, ConnectorError> {
        let before = self.read().await?;
        if !before.contains(&id) {
            return Ok(RevokeOutcome::AlreadyRevoked);
        }
        let mut intended = before.clone();
        intended.remove(&id);
        if self.kind != Kind::Role {
            let after = self.write_and_check(&intended).await?;
            if after == intended {
                return Ok(RevokeOutcome::Revoked);
            }
            if !after.contains(&id) || !intended.is_subset(&after) {
                return Err(ConnectorError::fatal(format!(
                    "after removing {id}, {} is {} where {} was expected",
                    self.what(),
                    show(&after),
                    show(&intended)
                )));
            }
            // The list is additive here too: fall through to clear-then-set.
        }
        self.clear_then_set(&before, &intended).await?;
        Ok(RevokeOutcome::Revoked)
    }

    /// Step one clears the list, step two sets what stays. A failed step two is retried once;
    /// if it still fails the original list is restored and the failure reported.
    async fn clear_then_set(
        &self,
        before: &BTreeSet<i64>,
        intended: &BTreeSet<i64>,
    ) -> Result<(), ConnectorError> {
        let empty = BTreeSet::new();
        let cleared = self.write_and_check(&empty).await?;
        if !cleared.is_empty() {
            return Err(ConnectorError::fatal(format!(
                "clearing {} left {}",
                self.what(),
                show(&cleared)
            )));
        }
        if intended.is_empty() {
            return Ok(());
        }
        let mut last_error = None;
        for _ in 0..2 {
            match self.write_and_check(intended).await {
                Ok(after) if &after == intended => return Ok(()),
                Ok(after) => {
                    last_error = Some(format!("Coupa answered {}", show(&after)));
                }
                Err(e) => last_error = Some(e.to_string()),
            }
        }
        let reason = last_error.unwrap_or_default();
        // Restore: never leave the user with less than before but the one revoked.
        let restored = self.write_and_check(before).await;
        let state = self
            .read()
            .await
            .map(|now| show(&now))
            .unwrap_or_else(|e| format!("unknown ({e})"));
        Err(ConnectorError::fatal(match restored {
            Ok(_) => format!(
                "setting {} to {} failed ({reason}); the original list was restored, now {state}",
                self.what(),
                show(intended)
            ),
            Err(e) => format!(
                "setting {} to {} failed ({reason}) and restoring {} failed ({e}); now {state}",
                self.what(),
                show(intended),
                show(before)
            ),
        }))
    }
}

impl ListProvisioner {
    fn object_id(&self, entitlement: &EntitlementId) -> Result<i64, ConnectorError> {
        if entitlement.slug != ids::MEMBER {
            return Err(ConnectorError::NotFound(format!(
                "`{entitlement}`: {} resources only offer `{}`",
                entitlement.resource.resource_type,
                ids::MEMBER
            )));
        }
        parse_id(
            &entitlement.resource.id,
            entitlement.resource.resource_type.as_str(),
        )
    }

    async fn target(&self, principal: &ResourceId) -> Result<(i64, Target<'_>), ConnectorError> {
        let user = user_id(principal)?;
        let client = self.session.writer().await?;
        Ok((
            user,
            Target {
                client,
                kind: self.kind,
                user,
            },
        ))
    }
}

#[async_trait]
impl Provisioner for ListProvisioner {
    async fn grant(
        &self,
        principal: &ResourceId,
        entitlement: &EntitlementId,
    ) -> Result<GrantOutcome, ConnectorError> {
        let id = self.object_id(entitlement)?;
        let (user, target) = self.target(principal).await?;
        let _held = self.session.locks.lock(user).await;
        target.add(id).await
    }

    async fn revoke(&self, grant: &Grant) -> Result<RevokeOutcome, ConnectorError> {
        let id = self.object_id(&grant.entitlement)?;
        let (user, target) = self.target(&grant.principal).await?;
        let _held = self.session.locks.lock(user).await;
        target.remove(id).await
    }
}
