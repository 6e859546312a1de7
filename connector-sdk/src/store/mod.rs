//! Where synced data lives: the [`Store`] trait, [`SqliteStore`] (the embedded default),
//! `PostgresStore` (feature `postgres`: the shared store of many hosts) and [`MemoryStore`]
//! (tests).
//!
//! Every row belongs to a sync run, so two completed runs can be compared with [`Store::diff`].
//! The sync engine's pending work lives in the store too, written in the same transaction as the
//! rows of the page that produced it: that is what makes a killed sync resumable.
//!
//! Store methods are synchronous; the engine calls them from a blocking thread.

mod columns;
mod diff;
mod lease;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod queue;
mod sqlite;
mod work;

use std::fmt;
use std::num::NonZeroUsize;

use serde::{Deserialize, Serialize};

use crate::model::{
    Entitlement, EntitlementId, Grant, GrantId, Resource, ResourceId, ResourceType, ResourceTypeId,
};

pub use diff::SyncDiff;
pub(crate) use lease::of_tenant;
pub use lease::{BeginRun, Begun, Holder};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresStore};
pub use queue::WorkQueue;
pub use sqlite::SqliteStore;
pub use work::{NewWork, PageCommit, WorkId, WorkItem, WorkKind};

/// The id of a sync run: opaque, ordered by age, shown and parsed as a decimal number (the
/// form hosts put in URLs and serialise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub(crate) i64);

impl RunId {
    /// The id a backend stored as `raw` (for [`WorkQueue`](crate::backend::WorkQueue)
    /// implementations).
    pub fn from_raw(raw: i64) -> Self {
        Self(raw)
    }

    /// The number a backend stores.
    pub fn raw(self) -> i64 {
        self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for RunId {
    type Err = std::num::ParseIntError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse().map(Self)
    }
}

/// The state of a sync run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunStatus {
    /// Started and not finished: running now, killed, cancelled, or stopped by an error that a
    /// retry may fix. Resumable by a sync with the same fingerprint.
    Running,
    /// Finished with every page stored.
    Completed,
    /// Finished with an error that resuming cannot fix (a connector error, a paging bug,
    /// integrity violations), or not resumed (another fingerprint, too old, a fresh run asked
    /// for); [`SyncRun::failure`] says which. Never resumed.
    Failed,
}

impl RunStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "running" => Some(Self::Running),
            "completed" => Some(Self::Completed),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One sync run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SyncRun {
    /// Id.
    pub id: RunId,
    /// The connector id it synced.
    pub connector: String,
    /// Start, in milliseconds since the Unix epoch.
    pub started_at_ms: i64,
    /// End, for finished runs.
    pub finished_at_ms: Option<i64>,
    /// State.
    pub status: RunStatus,
    /// What determines the run's output (connector, tenant, settings); only a sync with the same
    /// fingerprint resumes it.
    pub fingerprint: String,
    /// Why a failed run failed.
    pub failure: Option<String>,
    /// The engine holding a running run, if any.
    pub holder: Option<Holder>,
    /// The holder's last heartbeat, in milliseconds since the Unix epoch.
    pub heartbeat_ms: Option<i64>,
}

/// What is wrong with a stored grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IntegrityKind {
    /// No entitlement with the grant's entitlement id was synced.
    MissingEntitlement,
    /// No resource with the grant's principal id was synced.
    MissingPrincipal,
    /// The principal's resource type is not in the entitlement's `grantable_to`.
    NotGrantable,
}

/// A grant that fails an integrity check. A grant with both a missing entitlement and a missing
/// principal is reported twice, once for each.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IntegrityIssue {
    /// The grant.
    pub grant: GrantId,
    /// What is wrong.
    pub kind: IntegrityKind,
}

impl fmt::Display for IntegrityIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            IntegrityKind::MissingEntitlement => "its entitlement was never synced",
            IntegrityKind::MissingPrincipal => "its principal was never synced",
            IntegrityKind::NotGrantable => {
                "the entitlement is not grantable to the principal's type"
            }
        };
        write!(f, "grant `{}`: {what}", self.grant)
    }
}

/// Counts of what one run stored.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunCounts {
    /// Resources per resource type.
    pub resources: std::collections::BTreeMap<ResourceTypeId, u64>,
    /// Entitlements per resource type of the offering resource.
    pub entitlements: std::collections::BTreeMap<ResourceTypeId, u64>,
    /// Grants per resource type of the entitlement's resource.
    pub grants: std::collections::BTreeMap<ResourceTypeId, u64>,
}

impl RunCounts {
    /// All resources.
    pub fn total_resources(&self) -> u64 {
        self.resources.values().sum()
    }

    /// All entitlements.
    pub fn total_entitlements(&self) -> u64 {
        self.entitlements.values().sum()
    }

    /// All grants.
    pub fn total_grants(&self) -> u64 {
        self.grants.values().sum()
    }
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The disk holding the store is full, or the store reached its size cap
    /// ([`SqliteStore::set_max_size`]). The source is the backend's own error.
    #[error("the store is full: its disk has no space left or it reached its size cap")]
    Full(#[source] crate::BoxError),
    /// The backend failed (for [`SqliteStore`], SQLite: an unreadable file, a lock held too
    /// long). The source is the backend's own error, for
    /// `downcast_ref` by a host that knows the backend.
    #[error("store backend failed")]
    Backend(#[source] crate::BoxError),
    /// The file was written by another version of the store's schema (a newer build, most
    /// likely); nothing was changed.
    #[error("the store's schema version is {found}; this build reads version {supported}")]
    SchemaVersion {
        /// The version the file records.
        found: String,
        /// The version this build reads and writes.
        supported: &'static str,
    },
    /// A stored value is not what the store wrote.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// No run with this id.
    #[error("no sync run {0}")]
    UnknownRun(RunId),
    /// A page token was already handed out in the same listing. Nothing of the page was stored.
    #[error("page token {token:?} repeated")]
    TokenRepeated {
        /// The token's text.
        token: String,
    },
    /// Another engine holds the connector's unfinished run and its heartbeat is fresh.
    #[error(
        "sync already in progress: run {run} is held by {holder}, last heartbeat at {heartbeat_ms} ms"
    )]
    InProgress {
        /// The run.
        run: RunId,
        /// Who holds it.
        holder: Holder,
        /// Its last heartbeat, in milliseconds since the Unix epoch.
        heartbeat_ms: i64,
    },
    /// The caller no longer holds the run (another engine took it over after the caller's
    /// heartbeat went stale). Nothing was written.
    #[error("lease on run {0} lost to another engine")]
    LeaseLost(RunId),
    /// A lock was poisoned by a panic in another thread.
    #[error("store lock poisoned")]
    Poisoned,
}

/// What a host reads from a store: runs, their rows, counts and differences.
///
/// Every method reads, except [`Store::delete_run`]. The engine's side (beginning runs, leases,
/// work items, page commits) is the separate [`WorkQueue`](crate::backend::WorkQueue) trait, which
/// a backend implements too.
pub trait Store: Send + Sync {
    /// The newest run of `connector`, if any.
    fn latest_run(&self, connector: &str) -> Result<Option<SyncRun>, StoreError>;

    /// Counts integrity violations and returns a sorted sample of at most `limit` of them (all
    /// of them, sorted, when there are at most `limit`).
    fn integrity_issues(
        &self,
        run: RunId,
        limit: usize,
    ) -> Result<(u64, Vec<IntegrityIssue>), StoreError>;

    /// Every run, oldest first.
    fn runs(&self) -> Result<Vec<SyncRun>, StoreError>;

    /// Deletes a run and every row it holds (for pruning old runs).
    fn delete_run(&self, run: RunId) -> Result<(), StoreError>;

    /// Whether the store holds the runs of many tenants side by side (a shared database):
    /// then runs are scoped by tenant (the fingerprint's `tenant` part) when a sync begins, when
    /// the engine refuses another tenant's store and when old runs are pruned. A file store is
    /// one tenant's (`false`, the default).
    fn many_tenants(&self) -> bool {
        false
    }

    /// Deletes `connector`'s runs past the newest `keep` completed ones: older completed runs,
    /// and failed runs that started before the newest completed run (they can never be resumed).
    /// Unfinished runs are never deleted, nor failed runs newer than the last success (they hold
    /// what went wrong). With `tenant`, only runs whose fingerprint names that tenant (or none)
    /// are considered. Returns the runs deleted, oldest first.
    fn prune(
        &self,
        connector: &str,
        tenant: Option<&str>,
        keep: NonZeroUsize,
    ) -> Result<Vec<RunId>, StoreError> {
        let doomed = doomed_runs(&self.runs()?, connector, tenant, keep);
        for run in &doomed {
            self.delete_run(*run)?;
        }
        Ok(doomed)
    }

    /// Resource types synced by `run`, ordered by id.
    fn resource_types(&self, run: RunId) -> Result<Vec<ResourceType>, StoreError>;

    /// Up to `limit` resources of one type whose ids come after `after` (in byte order), ordered
    /// by id. Pass the last id of a page as `after` to get the next: a large type is read without
    /// holding it all in memory.
    fn resources_page(
        &self,
        run: RunId,
        resource_type: &ResourceTypeId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Resource>, StoreError>;

    /// Every resource of one type, ordered by id. Prefer [`Store::resources_page`] for large types.
    fn resources(
        &self,
        run: RunId,
        resource_type: &ResourceTypeId,
    ) -> Result<Vec<Resource>, StoreError> {
        const PAGE: usize = 1_000;
        let mut all = Vec::new();
        loop {
            let after = all.last().map(|r: &Resource| r.id.id.clone());
            let page = self.resources_page(run, resource_type, after.as_deref(), PAGE)?;
            let done = page.len() < PAGE;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    /// One resource.
    fn resource(&self, run: RunId, id: &ResourceId) -> Result<Option<Resource>, StoreError>;

    /// Entitlements offered by one resource, ordered by slug.
    fn entitlements(
        &self,
        run: RunId,
        resource: &ResourceId,
    ) -> Result<Vec<Entitlement>, StoreError>;

    /// Up to `limit` entitlements of `run` that come after `after`, ordered by (resource type,
    /// resource id, slug), each compared bytewise: pass the last of a page to get the next.
    fn entitlements_page(
        &self,
        run: RunId,
        after: Option<&EntitlementId>,
        limit: usize,
    ) -> Result<Vec<Entitlement>, StoreError>;

    /// Up to `limit` grants of a sealed `run` that come after `after`, ordered by (entitlement
    /// resource type, resource id, slug, principal type, principal id), each compared
    /// bytewise: every grant of the run, streamed without holding it all in memory.
    fn grants_page(
        &self,
        run: RunId,
        after: Option<&Grant>,
        limit: usize,
    ) -> Result<Vec<Grant>, StoreError>;

    /// Grants held by one principal, ordered by entitlement.
    fn grants_for_principal(
        &self,
        run: RunId,
        principal: &ResourceId,
    ) -> Result<Vec<Grant>, StoreError>;

    /// Grants of one entitlement, ordered by principal.
    fn grants_for_entitlement(
        &self,
        run: RunId,
        entitlement: &EntitlementId,
    ) -> Result<Vec<Grant>, StoreError>;

    /// Up to `limit` grants of one entitlement whose principal comes after `after` (in byte
    /// order of type, then id), ordered by principal: pass the last principal of a page to get
    /// the next. A store that holds little may page its whole list, as this default does.
    fn grants_for_entitlement_page(
        &self,
        run: RunId,
        entitlement: &EntitlementId,
        after: Option<&ResourceId>,
        limit: usize,
    ) -> Result<Vec<Grant>, StoreError> {
        let key = |id: &ResourceId| (id.resource_type.as_str().to_owned(), id.id.clone());
        let after = after.map(key);
        Ok(self
            .grants_for_entitlement(run, entitlement)?
            .into_iter()
            .filter(|g| after.as_ref().is_none_or(|a| key(&g.principal) > *a))
            .take(limit)
            .collect())
    }

    /// Up to `limit` grants held by one principal whose entitlement comes after `after` (in
    /// byte order of resource type, resource id, slug), ordered by entitlement.
    fn grants_for_principal_page(
        &self,
        run: RunId,
        principal: &ResourceId,
        after: Option<&EntitlementId>,
        limit: usize,
    ) -> Result<Vec<Grant>, StoreError> {
        let key = |id: &EntitlementId| {
            (
                id.resource.resource_type.as_str().to_owned(),
                id.resource.id.clone(),
                id.slug.clone(),
            )
        };
        let after = after.map(key);
        Ok(self
            .grants_for_principal(run, principal)?
            .into_iter()
            .filter(|g| after.as_ref().is_none_or(|a| key(&g.entitlement) > *a))
            .take(limit)
            .collect())
    }

    /// Warnings recorded during `run`, in the order they were stored.
    fn warnings(&self, run: RunId) -> Result<Vec<String>, StoreError>;

    /// Counts of what `run` stored.
    fn counts(&self, run: RunId) -> Result<RunCounts, StoreError>;

    /// What changed from run `old` to run `new`.
    fn diff(&self, old: RunId, new: RunId) -> Result<SyncDiff, StoreError>;
}

/// The runs [`Store::prune`] deletes, oldest first.
pub(crate) fn doomed_runs(
    runs: &[SyncRun],
    connector: &str,
    tenant: Option<&str>,
    keep: NonZeroUsize,
) -> Vec<RunId> {
    let runs: Vec<&SyncRun> = runs
        .iter()
        .filter(|r| {
            r.connector == connector && tenant.is_none_or(|t| lease::of_tenant(&r.fingerprint, t))
        })
        .collect();
    let completed: Vec<RunId> = runs
        .iter()
        .filter(|r| r.status == RunStatus::Completed)
        .map(|r| r.id)
        .collect();
    let kept = &completed[completed.len().saturating_sub(keep.get())..];
    let newest = completed.last().copied();
    runs.iter()
        .filter(|r| match r.status {
            RunStatus::Completed => !kept.contains(&r.id),
            RunStatus::Failed => newest.is_some_and(|n| r.id < n),
            RunStatus::Running => false,
        })
        .map(|r| r.id)
        .collect()
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
