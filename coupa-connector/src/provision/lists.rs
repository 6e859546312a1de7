//! Group, role, account-group and content-group membership: full-list writes to the user,
//! through the converge helper; Coupa's documented clear-then-set for lists that only grow.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use connector_sdk::{
    ConnectorError, EntitlementId, GrantOutcome, GrantRequest, Provisioner, ResourceId,
    RevokeOutcome, RevokeRequest,
};
use coupa_client::AccessList;

use super::converge::{Converged, List, Target};
use super::{WriteError, parse_id, user_id};
use crate::ids;
use crate::kinds::Kind;
use crate::session::Session;

/// Grants and revokes membership of one group-like resource type.
pub(crate) struct ListProvisioner {
    pub(crate) session: Arc<Session>,
    pub(crate) kind: Kind,
}

type Ids = BTreeSet<i64>;

impl ListProvisioner {
    fn object_id(&self, entitlement: &EntitlementId) -> Result<i64, ConnectorError> {
        if entitlement.slug != ids::MEMBER {
            return Err(ConnectorError::not_found(format!(
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

    /// Runs `operation` on the user's list in a task of its own that holds the user's lock, so
    /// a write sequence finishes (or restores) even when the caller stops waiting.
    async fn spawn<T, F>(
        &self,
        principal: &ResourceId,
        operation: impl FnOnce(Arc<Session>, Target<List>) -> F,
    ) -> Result<T, ConnectorError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, ConnectorError>> + Send + 'static,
    {
        let user = user_id(principal)?;
        let list = self.kind.spec().list;
        let client = self
            .session
            .writer(list == AccessList::AccountGroups)
            .await?
            .clone();
        let target = Target {
            client,
            user,
            attribute: List(list),
        };
        let held = self.session.locks.lock(user).await;
        let session = self.session.clone();
        let work = operation(session, target);
        tokio::spawn(async move {
            let result = work.await;
            drop(held);
            result
        })
        .await
        .map_err(|e| ConnectorError::fatal(format!("the write task for user {user} ended: {e}")))?
    }
}

async fn add(target: Target<List>, id: i64) -> Result<GrantOutcome, ConnectorError> {
    let converged = target
        .converge(|ids| ids.contains(&id), |ids| with(ids, id))
        .await?;
    match converged {
        Converged::Already => Ok(GrantOutcome::AlreadyGranted),
        Converged::Changed => Ok(GrantOutcome::Granted),
        Converged::NotApplied { answer, .. } => Err(ConnectorError::not_found(format!(
            "Coupa ignored {key} id {id} when writing user {user}'s {key} (it does not exist); \
             the list reads {now}",
            key = target.key(),
            user = target.user,
            now = target.show(&answer),
        ))),
    }
}

async fn remove(
    session: Arc<Session>,
    target: Target<List>,
    id: i64,
) -> Result<RevokeOutcome, ConnectorError> {
    let list = target.attribute.0;
    if session.grows_only(list) {
        let before = target.read().await?;
        if !before.contains(&id) {
            return Ok(RevokeOutcome::AlreadyRevoked);
        }
        return clear_then_set(&target, &before, id).await;
    }
    let converged = target
        .converge(|ids| !ids.contains(&id), |ids| without(ids, id))
        .await?;
    match converged {
        Converged::Already => Ok(RevokeOutcome::AlreadyRevoked),
        Converged::Changed => Ok(RevokeOutcome::Revoked),
        // Coupa kept the removed id and everything else: this list only grows on a write, as
        // documented for roles. Remember it, and use the documented clear-then-set.
        Converged::NotApplied { intended, answer }
            if answer.contains(&id) && intended.is_subset(&answer) =>
        {
            tracing::info!(
                list = list.key(),
                "Coupa kept a removed id: this list only grows; using clear-then-set"
            );
            session.remember_grows_only(list);
            clear_then_set(&target, &answer, id).await
        }
        Converged::NotApplied { intended, answer } => {
            let error = WriteError::NotApplied {
                user: target.user,
                key: list.key().to_owned(),
                intended: target.show(&intended),
                now: target.show(&answer),
            };
            Err(ConnectorError::fatal_with(error.to_string(), error))
        }
    }
}

fn with(ids: &Ids, id: i64) -> Ids {
    let mut ids = ids.clone();
    ids.insert(id);
    ids
}

fn without(ids: &Ids, id: i64) -> Ids {
    let mut ids = ids.clone();
    ids.remove(&id);
    ids
}

/// Coupa's documented removal for a list that only grows: write `[]`, then the list without
/// `id`. Setting what stays is safe whether or not the clear landed (on a list that grows it
/// only re-adds what is there), so an uncertain clear is followed by the set; the set is tried
/// twice, and if the list still is not right the original list is written back. Every failure
/// says exactly what the user is left with.
async fn clear_then_set(
    target: &Target<List>,
    before: &Ids,
    id: i64,
) -> Result<RevokeOutcome, ConnectorError> {
    let intended = without(before, id);
    let done = |ids: &Ids| !ids.contains(&id) && intended.is_subset(ids);
    if let Err(error) = target.put(&Ids::new()).await {
        // Nothing changed when the list still reads as before: report the write's error.
        if target.read().await.is_ok_and(|now| &now == before) {
            return Err(crate::errors::to_connector(error));
        }
    }
    let mut set_error = None;
    if !intended.is_empty() {
        for _ in 0..2 {
            match target.put(&intended).await {
                Ok(_) => {
                    set_error = None;
                    break;
                }
                Err(e) => set_error = Some(e.to_string()),
            }
        }
    }
    let read = match target.read().await {
        Ok(now) if done(&now) => return Ok(RevokeOutcome::Revoked),
        Ok(now) => format!("after clear-then-set the list reads {}", target.show(&now)),
        Err(e) => format!("the list could not be read back: {e}"),
    };
    let reason = match set_error {
        Some(e) => format!("setting {} failed: {e}; {read}", target.show(&intended)),
        None => read,
    };
    let restored = target.put(before).await.is_ok();
    let now = target.read().await.ok();
    let error = WriteError::PartialRemoval {
        user: target.user,
        key: target.key().to_owned(),
        reason,
        before: target.show(before),
        restored,
        now: now.as_ref().map(|n| target.show(n)),
    };
    Err(ConnectorError::fatal_with(error.to_string(), error))
}

#[async_trait]
impl Provisioner for ListProvisioner {
    async fn grant(&self, request: GrantRequest) -> Result<GrantOutcome, ConnectorError> {
        request.require_permanent()?;
        let id = self.object_id(&request.entitlement)?;
        self.spawn(&request.principal, move |_, target| add(target, id))
            .await
    }

    async fn revoke(&self, request: RevokeRequest) -> Result<RevokeOutcome, ConnectorError> {
        let grant = &request.grant;
        let id = self.object_id(&grant.entitlement)?;
        self.spawn(&grant.principal, move |session, target| {
            remove(session, target, id)
        })
        .await
    }
}
