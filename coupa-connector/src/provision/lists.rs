//! Group, role, account-group and content-group membership, and the approvers of user groups:
//! full-list writes to the user, through the converge helper; Coupa's documented
//! clear-then-set for lists that only grow.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use connector_sdk::journal::{IntentDraft, IntentOperation, RepairRequest, Repaired};
use connector_sdk::{
    CallContext, ConnectorError, EntitlementId, GrantOutcome, GrantRequest, Provisioner,
    ResourceId, RevokeOutcome, RevokeRequest,
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

/// The user's list an entitlement is written to, and the object's id in it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    list: AccessList,
    slug: &'static str,
    id: i64,
}

impl ListProvisioner {
    /// The slugs this kind offers, each with the user's list that holds it: `member` (the
    /// kind's list), and for user groups `approver` (`approval-groups`).
    fn slugs(&self) -> Vec<(&'static str, AccessList)> {
        let mut slugs = vec![(ids::MEMBER, self.kind.spec().list)];
        if self.kind == Kind::Group {
            slugs.push((ids::APPROVER, AccessList::ApprovalGroups));
        }
        slugs
    }

    fn entry(&self, entitlement: &EntitlementId) -> Result<Entry, ConnectorError> {
        let slugs = self.slugs();
        let Some((slug, list)) = slugs.iter().find(|(s, _)| *s == entitlement.slug) else {
            let offered: Vec<String> = slugs.iter().map(|(s, _)| format!("`{s}`")).collect();
            return Err(ConnectorError::not_found(format!(
                "`{entitlement}`: {} resources only offer {}",
                entitlement.resource.resource_type,
                offered.join(" and ")
            )));
        };
        let id = parse_id(
            &entitlement.resource.id,
            entitlement.resource.resource_type.as_str(),
        )?;
        Ok(Entry {
            list: *list,
            slug,
            id,
        })
    }

    /// Runs `operation` on the user's list in a task of its own that holds the user's lock, so
    /// a write sequence finishes (or restores) even when the caller stops waiting.
    async fn spawn<T, F>(
        &self,
        principal: &ResourceId,
        entry: Entry,
        context: CallContext,
        operation: impl FnOnce(Write) -> F,
    ) -> Result<T, ConnectorError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, ConnectorError>> + Send + 'static,
    {
        let user = user_id(principal)?;
        let list = entry.list;
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
        let work = operation(Write {
            session: self.session.clone(),
            target,
            context,
            type_id: self.kind.spec().type_id,
            slug: entry.slug,
        });
        tokio::spawn(async move {
            let result = work.await;
            drop(held);
            result
        })
        .await
        .map_err(|e| ConnectorError::fatal(format!("the write task for user {user} ended: {e}")))?
    }
}

/// One write to one user's list, with what it needs to journal itself.
pub(crate) struct Write {
    session: Arc<Session>,
    target: Target<List>,
    context: CallContext,
    /// The resource type of the list's entries.
    type_id: &'static str,
    /// The slug the list holds (`member`, or `approver` for `approval-groups`).
    slug: &'static str,
}

impl Write {
    /// The entries as resource ids.
    fn resources(&self, ids: &Ids) -> Vec<ResourceId> {
        ids.iter()
            .map(|id| ResourceId::new(self.type_id, id.to_string()))
            .collect()
    }

    /// The entitlement of entry `id`.
    fn entitlement(&self, id: i64) -> EntitlementId {
        EntitlementId::new(ResourceId::new(self.type_id, id.to_string()), self.slug)
    }

    /// The intent of revoking `id` from a list that held `before`.
    fn revoke_draft(&self, before: &Ids, id: i64) -> IntentDraft {
        IntentDraft::revoke(
            ids::user(self.target.user),
            self.entitlement(id),
            self.target.key(),
            self.resources(before),
        )
    }
}

async fn add(write: Write, id: i64) -> Result<GrantOutcome, ConnectorError> {
    let target = &write.target;
    let converged = target
        .converge(|ids| ids.contains(&id), |ids| with(ids, id))
        .await?;
    match converged {
        Converged::Already => Ok(GrantOutcome::AlreadyGranted),
        Converged::Changed => Ok(GrantOutcome::granted(vec![connector_sdk::Grant::new(
            write.entitlement(id),
            ids::user(target.user),
        )])),
        Converged::NotApplied { answer, .. } => Err(ConnectorError::not_found(format!(
            "Coupa ignored {key} id {id} when writing user {user}'s {key} (it does not exist); \
             the list reads {now}",
            key = target.key(),
            user = target.user,
            now = target.show(&answer),
        ))),
    }
}

async fn remove(write: Write, id: i64) -> Result<RevokeOutcome, ConnectorError> {
    let (session, target) = (&write.session, &write.target);
    let list = target.attribute.0;
    if session.grows_only(list) {
        let before = target.read().await?;
        if !before.contains(&id) {
            return Ok(RevokeOutcome::AlreadyRevoked);
        }
        return clear_then_set(&write, &before, id).await;
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
            clear_then_set(&write, &answer, id).await
        }
        Converged::NotApplied { intended, answer } => Err(not_applied(target, &intended, &answer)),
    }
}

/// Coupa answered a write of `intended` with `now`.
fn not_applied(target: &Target<List>, intended: &Ids, now: &Ids) -> ConnectorError {
    let error = WriteError::NotApplied {
        user: target.user,
        key: target.key().to_owned(),
        intended: target.show(intended),
        now: target.show(now),
    };
    ConnectorError::fatal_with(error.to_string(), error)
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
/// `id`. The intent is journaled before the clear and marked done once a read shows the list
/// removed (or restored), so a process that dies in between is repaired at its next start.
/// Setting what stays is safe whether or not the clear landed (on a list that grows it only
/// re-adds what is there), so an uncertain clear is followed by the set; the set is tried
/// twice, and if the list still is not right the original list is written back. Every failure
/// says exactly what the user is left with.
async fn clear_then_set(
    write: &Write,
    before: &Ids,
    id: i64,
) -> Result<RevokeOutcome, ConnectorError> {
    let target = &write.target;
    let intent = write
        .context
        .begin_intent(write.revoke_draft(before, id))
        .await?;
    let intended = without(before, id);
    let done = |ids: &Ids| !ids.contains(&id) && intended.is_subset(ids);
    if let Err(error) = target.put(&Ids::new()).await {
        // Nothing changed when the list still reads as before: report the write's error.
        if target.read().await.is_ok_and(|now| &now == before) {
            close(intent).await;
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
        Ok(now) if done(&now) => {
            close(intent).await;
            return Ok(RevokeOutcome::Revoked);
        }
        Ok(now) => format!("after clear-then-set the list reads {}", target.show(&now)),
        Err(e) => format!("the list could not be read back: {e}"),
    };
    let reason = match set_error {
        Some(e) => format!("setting {} failed: {e}; {read}", target.show(&intended)),
        None => read,
    };
    let restored = target.put(before).await.is_ok();
    let now = target.read().await.ok();
    // Back where it started: nothing is left to repair. Otherwise the intent stays open, and
    // the next write to this user (or the next start) finishes it.
    if now.as_ref().is_some_and(|now| before.is_subset(now)) {
        close(intent).await;
    }
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

/// Marks an intent done; a failure only leaves it open for a repair that will find the list
/// right.
async fn close(intent: connector_sdk::journal::IntentGuard) {
    if let Err(error) = intent.done().await {
        tracing::warn!(error = %connector_sdk::error_chain(&error),
            "the write is done but its intent stays open; the next repair finds nothing to do");
    }
}

/// Finishes an interrupted write to the list: what the list held before, with what is there
/// now, less the id revoked (or with the id granted). What someone added since is kept; only
/// the revoked id is removed, with clear-then-set (journaled again) if the list only grows.
async fn repair(
    write: Write,
    operation: IntentOperation,
    id: i64,
    before: Ids,
) -> Result<Repaired, ConnectorError> {
    let target = &write.target;
    let now = target.read().await?;
    let mut wanted: Ids = now.union(&before).copied().collect();
    let revoke = operation == IntentOperation::Revoke;
    if revoke {
        wanted.remove(&id);
    } else {
        wanted.insert(id);
    }
    let restored: Ids = wanted.difference(&now).copied().collect();
    let holds = |ids: &Ids| wanted.is_subset(ids) && !(revoke && ids.contains(&id));
    let converged = target
        .converge(holds, |ids| {
            let mut next: Ids = ids.union(&wanted).copied().collect();
            if revoke {
                next.remove(&id);
            }
            next
        })
        .await?;
    match converged {
        Converged::Already | Converged::Changed => {}
        // The list only grows: the revoked id needs the documented clear-then-set, journaled
        // with everything the list holds now as its "before".
        Converged::NotApplied { answer, .. } if revoke && answer.contains(&id) => {
            write.session.remember_grows_only(target.attribute.0);
            let before: Ids = answer.union(&wanted).copied().collect();
            clear_then_set(&write, &before, id).await?;
        }
        Converged::NotApplied { intended, answer } => {
            return Err(not_applied(target, &intended, &answer));
        }
    }
    let now = target.read().await?;
    if !holds(&now) {
        return Err(not_applied(target, &wanted, &now));
    }
    Ok(Repaired::new(
        write.resources(&restored),
        write.resources(&now),
    ))
}

#[async_trait]
impl Provisioner for ListProvisioner {
    async fn grant(&self, request: GrantRequest) -> Result<GrantOutcome, ConnectorError> {
        request.require_permanent()?;
        let entry = self.entry(&request.entitlement)?;
        self.spawn(&request.principal, entry, request.context, move |write| {
            add(write, entry.id)
        })
        .await
    }

    async fn revoke(&self, request: RevokeRequest) -> Result<RevokeOutcome, ConnectorError> {
        let grant = &request.grant;
        let entry = self.entry(&grant.entitlement)?;
        self.spawn(&grant.principal, entry, request.context, move |write| {
            remove(write, entry.id)
        })
        .await
    }

    fn entitlement_slugs(&self) -> Vec<String> {
        self.slugs()
            .into_iter()
            .map(|(s, _)| s.to_owned())
            .collect()
    }

    async fn repair(&self, request: RepairRequest) -> Result<Repaired, ConnectorError> {
        let draft = &request.intent.intent.draft;
        let entry = self.entry(&draft.entitlement)?;
        let id = entry.id;
        let type_id = self.kind.spec().type_id;
        let before = draft
            .before
            .iter()
            .map(|r| match r.resource_type.as_str() == type_id {
                true => parse_id(&r.id, type_id),
                false => Err(ConnectorError::fatal(format!(
                    "the journal names `{r}` in a list of {type_id} entries"
                ))),
            })
            .collect::<Result<Ids, _>>()?;
        let operation = draft.operation;
        self.spawn(&draft.principal, entry, request.context, move |write| {
            repair(write, operation, id, before)
        })
        .await
    }
}
