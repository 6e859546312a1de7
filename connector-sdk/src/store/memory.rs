//! [`MemoryStore`]: everything in memory, for tests.

use crate::journal::{Intent, IntentId, Journal, OpenIntent};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Mutex, MutexGuard};

use super::lease::{self, Decision, OpenRun};
use super::{
    BeginRun, Begun, IntegrityIssue, IntegrityKind, NewWork, PageCommit, RunCounts, RunId,
    RunStatus, Store, StoreError, SyncDiff, SyncRun, WorkId, WorkItem, WorkQueue, now_ms,
};
use crate::model::{
    Entitlement, EntitlementId, Grant, GrantId, Resource, ResourceId, ResourceType, ResourceTypeId,
};

/// A store that keeps everything in memory. Same semantics as [`super::SqliteStore`].
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    runs: Vec<SyncRun>,
    /// The last run id handed out (ids are never reused, even after a delete).
    last_run: i64,
    data: BTreeMap<RunId, RunData>,
    next_work: i64,
    /// The journal: every intent with its resolution once closed.
    intents: Vec<(IntentId, Intent, Option<String>)>,
    /// What connectors learned, by connector and tenant.
    learned: BTreeMap<(String, String), (String, i64)>,
}

type TokenKey = (&'static str, ResourceTypeId, Option<ResourceId>, String);

#[derive(Debug, Default)]
struct RunData {
    resource_types: BTreeMap<ResourceTypeId, ResourceType>,
    resources: BTreeMap<ResourceId, Resource>,
    entitlements: BTreeMap<EntitlementId, Entitlement>,
    grants: BTreeMap<GrantId, Grant>,
    warnings: Vec<String>,
    work: BTreeMap<WorkId, (WorkItem, bool)>,
    tokens: HashSet<TokenKey>,
}

fn token_key(work: &NewWork) -> Option<TokenKey> {
    work.token.as_ref().map(|t| {
        (
            work.kind.tag(),
            work.kind.resource_type().clone(),
            work.kind.scope().cloned(),
            t.as_str().to_owned(),
        )
    })
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, StoreError> {
        self.inner.lock().map_err(|_| StoreError::Poisoned)
    }

    /// Every grant of `run`, ordered by id.
    pub fn all_grants(&self, run: RunId) -> Result<Vec<Grant>, StoreError> {
        Ok(self.lock()?.run(run)?.grants.values().cloned().collect())
    }

    /// Every resource of `run`, ordered by id.
    pub fn all_resources(&self, run: RunId) -> Result<Vec<Resource>, StoreError> {
        Ok(self.lock()?.run(run)?.resources.values().cloned().collect())
    }

    /// Every entitlement of `run`, ordered by id.
    pub fn all_entitlements(&self, run: RunId) -> Result<Vec<Entitlement>, StoreError> {
        Ok(self
            .lock()?
            .run(run)?
            .entitlements
            .values()
            .cloned()
            .collect())
    }
}

impl Inner {
    fn record(&mut self, run: RunId) -> Result<&mut SyncRun, StoreError> {
        self.runs
            .iter_mut()
            .find(|r| r.id == run)
            .ok_or(StoreError::UnknownRun(run))
    }

    /// Fails with [`StoreError::LeaseLost`] unless `lease` holds `run`.
    fn check_lease(&mut self, run: RunId, lease: &str) -> Result<(), StoreError> {
        match &self.record(run)?.holder {
            Some(h) if h.id == lease => Ok(()),
            _ => Err(StoreError::LeaseLost(run)),
        }
    }

    fn finish(
        &mut self,
        run: RunId,
        status: RunStatus,
        failure: Option<&str>,
    ) -> Result<(), StoreError> {
        let record = self.record(run)?;
        record.status = status;
        record.finished_at_ms = Some(now_ms());
        record.failure = failure.map(str::to_owned);
        record.holder = None;
        record.heartbeat_ms = None;
        if let Some(data) = self.data.get_mut(&run) {
            data.work.clear();
            data.tokens.clear();
        }
        Ok(())
    }

    fn run(&self, run: RunId) -> Result<&RunData, StoreError> {
        self.data.get(&run).ok_or(StoreError::UnknownRun(run))
    }

    fn run_mut(&mut self, run: RunId) -> Result<&mut RunData, StoreError> {
        self.data.get_mut(&run).ok_or(StoreError::UnknownRun(run))
    }

    fn push_work(&mut self, run: RunId, work: &[NewWork]) -> Result<(), StoreError> {
        let data = self.data.get_mut(&run).ok_or(StoreError::UnknownRun(run))?;
        let mut fresh = HashSet::new();
        for item in work {
            if let Some(key) = token_key(item)
                && (data.tokens.contains(&key) || !fresh.insert(key.clone()))
            {
                return Err(StoreError::TokenRepeated { token: key.3 });
            }
        }
        data.tokens.extend(fresh);
        for item in work {
            self.next_work += 1;
            let id = WorkId(self.next_work);
            let item = WorkItem {
                id,
                kind: item.kind.clone(),
                token: item.token.clone(),
            };
            data.work.insert(id, (item, false));
        }
        Ok(())
    }
}

impl Store for MemoryStore {
    fn latest_run(&self, connector: &str) -> Result<Option<SyncRun>, StoreError> {
        Ok(self
            .lock()?
            .runs
            .iter()
            .rev()
            .find(|r| r.connector == connector)
            .cloned())
    }

    fn integrity_issues(
        &self,
        run: RunId,
        limit: usize,
    ) -> Result<(u64, Vec<IntegrityIssue>), StoreError> {
        let inner = self.lock()?;
        let data = inner.run(run)?;
        let mut issues = Vec::new();
        for (id, grant) in &data.grants {
            match data.entitlements.get(&grant.entitlement) {
                None => issues.push((id, IntegrityKind::MissingEntitlement)),
                Some(e) if !e.grantable_to.contains(&grant.principal.resource_type) => {
                    issues.push((id, IntegrityKind::NotGrantable));
                }
                Some(_) => {}
            }
            if !data.resources.contains_key(&grant.principal) {
                issues.push((id, IntegrityKind::MissingPrincipal));
            }
        }
        let count = issues.len() as u64;
        let mut first: Vec<IntegrityIssue> = issues
            .into_iter()
            .map(|(id, kind)| IntegrityIssue {
                grant: id.clone(),
                kind,
            })
            .collect();
        first.sort();
        first.truncate(limit);
        Ok((count, first))
    }

    fn delete_run(&self, run: RunId) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        inner.data.remove(&run).ok_or(StoreError::UnknownRun(run))?;
        inner.runs.retain(|r| r.id != run);
        Ok(())
    }

    fn runs(&self) -> Result<Vec<SyncRun>, StoreError> {
        Ok(self.lock()?.runs.clone())
    }

    fn resource_types(&self, run: RunId) -> Result<Vec<ResourceType>, StoreError> {
        Ok(self
            .lock()?
            .run(run)?
            .resource_types
            .values()
            .cloned()
            .collect())
    }

    fn resources_page(
        &self,
        run: RunId,
        resource_type: &ResourceTypeId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Resource>, StoreError> {
        use std::ops::Bound;
        let inner = self.lock()?;
        let data = inner.run(run)?;
        let start = match after {
            Some(id) => Bound::Excluded(ResourceId::new(resource_type.clone(), id)),
            None => Bound::Included(ResourceId::new(resource_type.clone(), "")),
        };
        Ok(data
            .resources
            .range((start, Bound::Unbounded))
            .take_while(|(id, _)| &id.resource_type == resource_type)
            .take(limit)
            .map(|(_, r)| r.clone())
            .collect())
    }

    fn resource(&self, run: RunId, id: &ResourceId) -> Result<Option<Resource>, StoreError> {
        Ok(self.lock()?.run(run)?.resources.get(id).cloned())
    }

    fn entitlements(
        &self,
        run: RunId,
        resource: &ResourceId,
    ) -> Result<Vec<Entitlement>, StoreError> {
        Ok(self
            .lock()?
            .run(run)?
            .entitlements
            .values()
            .filter(|e| &e.id.resource == resource)
            .cloned()
            .collect())
    }

    fn entitlements_page(
        &self,
        run: RunId,
        after: Option<&EntitlementId>,
        limit: usize,
    ) -> Result<Vec<Entitlement>, StoreError> {
        let inner = self.lock()?;
        let key = |e: &EntitlementId| {
            (
                e.resource.resource_type.as_str().to_owned(),
                e.resource.id.clone(),
                e.slug.clone(),
            )
        };
        let after = after.map(key);
        let mut page: Vec<&Entitlement> = inner
            .run(run)?
            .entitlements
            .values()
            .filter(|e| after.as_ref().is_none_or(|a| key(&e.id) > *a))
            .collect();
        page.sort_by_key(|e| key(&e.id));
        Ok(page.into_iter().take(limit).cloned().collect())
    }

    fn grants_page(
        &self,
        run: RunId,
        after: Option<&Grant>,
        limit: usize,
    ) -> Result<Vec<Grant>, StoreError> {
        let inner = self.lock()?;
        let key = |g: &Grant| {
            (
                g.entitlement.resource.resource_type.as_str().to_owned(),
                g.entitlement.resource.id.clone(),
                g.entitlement.slug.clone(),
                g.principal.resource_type.as_str().to_owned(),
                g.principal.id.clone(),
            )
        };
        let after = after.map(key);
        let mut page: Vec<&Grant> = inner
            .run(run)?
            .grants
            .values()
            .filter(|g| after.as_ref().is_none_or(|a| key(g) > *a))
            .collect();
        page.sort_by_key(|g| key(g));
        Ok(page.into_iter().take(limit).cloned().collect())
    }

    fn grants_for_principal(
        &self,
        run: RunId,
        principal: &ResourceId,
    ) -> Result<Vec<Grant>, StoreError> {
        Ok(self
            .lock()?
            .run(run)?
            .grants
            .values()
            .filter(|g| &g.principal == principal)
            .cloned()
            .collect())
    }

    fn grants_for_entitlement(
        &self,
        run: RunId,
        entitlement: &EntitlementId,
    ) -> Result<Vec<Grant>, StoreError> {
        let mut grants: Vec<Grant> = self
            .lock()?
            .run(run)?
            .grants
            .values()
            .filter(|g| &g.entitlement == entitlement)
            .cloned()
            .collect();
        grants.sort_by(|a, b| a.principal.cmp(&b.principal));
        Ok(grants)
    }

    fn warnings(&self, run: RunId) -> Result<Vec<String>, StoreError> {
        Ok(self.lock()?.run(run)?.warnings.clone())
    }

    fn counts(&self, run: RunId) -> Result<RunCounts, StoreError> {
        let inner = self.lock()?;
        let data = inner.run(run)?;
        let mut counts = RunCounts::default();
        for id in data.resources.keys() {
            *counts
                .resources
                .entry(id.resource_type.clone())
                .or_default() += 1;
        }
        for id in data.entitlements.keys() {
            *counts
                .entitlements
                .entry(id.resource.resource_type.clone())
                .or_default() += 1;
        }
        for id in data.grants.keys() {
            *counts
                .grants
                .entry(id.entitlement.resource.resource_type.clone())
                .or_default() += 1;
        }
        Ok(counts)
    }

    fn diff(&self, old: RunId, new: RunId) -> Result<SyncDiff, StoreError> {
        let inner = self.lock()?;
        let (a, b) = (inner.run(old)?, inner.run(new)?);
        fn minus<K: Ord + Clone, V>(x: &BTreeMap<K, V>, y: &BTreeMap<K, V>) -> Vec<K> {
            let y: BTreeSet<&K> = y.keys().collect();
            x.keys().filter(|k| !y.contains(k)).cloned().collect()
        }
        Ok(SyncDiff {
            added_resources: minus(&b.resources, &a.resources),
            removed_resources: minus(&a.resources, &b.resources),
            added_entitlements: minus(&b.entitlements, &a.entitlements),
            removed_entitlements: minus(&a.entitlements, &b.entitlements),
            added_grants: minus(&b.grants, &a.grants),
            removed_grants: minus(&a.grants, &b.grants),
        })
    }
}

impl WorkQueue for MemoryStore {
    fn learned(
        &self,
        connector: &str,
        fingerprint: &str,
    ) -> Result<Option<(String, i64)>, StoreError> {
        let key = (connector.to_owned(), fingerprint.to_owned());
        Ok(self.lock()?.learned.get(&key).cloned())
    }

    fn set_learned(
        &self,
        connector: &str,
        fingerprint: &str,
        learned: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let key = (connector.to_owned(), fingerprint.to_owned());
        self.lock()?
            .learned
            .insert(key, (learned.to_owned(), at_ms));
        Ok(())
    }

    fn begin_run(&self, begin: &BeginRun<'_>) -> Result<Begun, StoreError> {
        let mut inner = self.lock()?;
        let open: Vec<OpenRun> = inner
            .runs
            .iter()
            .filter(|r| r.connector == begin.connector && r.status == RunStatus::Running)
            .map(|r| OpenRun {
                id: r.id,
                fingerprint: r.fingerprint.clone(),
                started_at_ms: r.started_at_ms,
                holder: r.holder.clone(),
                heartbeat_ms: r.heartbeat_ms,
            })
            .collect();
        let now = now_ms();
        let (fail, begun) = match lease::decide(&open, begin, now) {
            Decision::InProgress {
                run,
                holder,
                heartbeat_ms,
            } => {
                return Err(StoreError::InProgress {
                    run,
                    holder,
                    heartbeat_ms,
                });
            }
            Decision::Resume { run, fail } => (
                fail,
                Begun {
                    run,
                    resumed: true,
                    not_resumed: None,
                },
            ),
            Decision::Start { fail, not_resumed } => {
                let run = RunId(inner.last_run + 1);
                let data = RunData {
                    resource_types: begin
                        .resource_types
                        .iter()
                        .map(|rt| (rt.id.clone(), rt.clone()))
                        .collect(),
                    ..RunData::default()
                };
                inner.data.insert(run, data);
                if let Err(e) = inner.push_work(run, begin.work) {
                    inner.data.remove(&run);
                    return Err(e);
                }
                inner.last_run = run.0;
                inner.runs.push(SyncRun {
                    id: run,
                    connector: begin.connector.to_owned(),
                    started_at_ms: now,
                    finished_at_ms: None,
                    status: RunStatus::Running,
                    fingerprint: begin.fingerprint.encode(),
                    failure: None,
                    holder: None,
                    heartbeat_ms: None,
                });
                (
                    fail,
                    Begun {
                        run,
                        resumed: false,
                        not_resumed,
                    },
                )
            }
        };
        for (run, reason) in &fail {
            inner.finish(*run, RunStatus::Failed, Some(reason))?;
        }
        let record = inner.record(begun.run)?;
        record.holder = Some(begin.holder.clone());
        record.heartbeat_ms = Some(now);
        for (_, claimed) in inner.run_mut(begun.run)?.work.values_mut() {
            *claimed = false;
        }
        Ok(begun)
    }

    fn heartbeat(&self, run: RunId, lease: &str) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        inner.check_lease(run, lease)?;
        inner.record(run)?.heartbeat_ms = Some(now_ms());
        Ok(())
    }

    fn release_run(&self, run: RunId, lease: &str) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        inner.check_lease(run, lease)?;
        let record = inner.record(run)?;
        record.holder = None;
        record.heartbeat_ms = None;
        for (_, claimed) in inner.run_mut(run)?.work.values_mut() {
            *claimed = false;
        }
        Ok(())
    }

    fn claim_work(
        &self,
        run: RunId,
        lease: &str,
        limit: usize,
    ) -> Result<Vec<WorkItem>, StoreError> {
        let mut inner = self.lock()?;
        inner.check_lease(run, lease)?;
        let data = inner.run_mut(run)?;
        let Some(stage) = data.work.values().map(|(w, _)| w.kind.stage()).min() else {
            return Ok(Vec::new());
        };
        let mut items = Vec::new();
        for (item, claimed) in data.work.values_mut() {
            if items.len() == limit {
                break;
            }
            if !*claimed && item.kind.stage() == stage {
                *claimed = true;
                items.push(item.clone());
            }
        }
        Ok(items)
    }

    fn commit_page(&self, run: RunId, lease: &str, commit: &PageCommit) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        inner.check_lease(run, lease)?;
        inner.push_work(run, &commit.work)?;
        let data = inner.run_mut(run)?;
        for r in &commit.resources {
            data.resources.insert(r.id.clone(), r.clone());
        }
        for e in &commit.entitlements {
            data.entitlements.insert(e.id.clone(), e.clone());
        }
        for g in &commit.grants {
            data.grants.entry(g.id()).or_insert_with(|| g.clone());
        }
        data.warnings.extend(commit.warnings.iter().cloned());
        if let Some(done) = commit.done {
            data.work.remove(&done);
        }
        Ok(())
    }

    fn seal_run(&self, run: RunId) -> Result<(), StoreError> {
        self.lock()?.run(run).map(|_| ())
    }

    fn finish_run(
        &self,
        run: RunId,
        status: RunStatus,
        failure: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        inner.run(run)?;
        inner.finish(run, status, failure)
    }
}

impl Journal for MemoryStore {
    fn record_intent(&self, intent: &Intent) -> Result<IntentId, StoreError> {
        let mut inner = self.lock()?;
        let id = IntentId::from_raw(inner.intents.last().map_or(1, |(id, ..)| id.raw() + 1));
        inner.intents.push((id, intent.clone(), None));
        Ok(id)
    }

    fn close_intent(&self, id: IntentId, resolution: &str) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        if let Some((.., done)) = inner.intents.iter_mut().find(|(i, ..)| *i == id) {
            done.get_or_insert_with(|| resolution.to_owned());
        }
        Ok(())
    }

    fn open_intents(&self, connector: &str) -> Result<Vec<OpenIntent>, StoreError> {
        Ok(self
            .lock()?
            .intents
            .iter()
            .filter(|(_, intent, done)| done.is_none() && intent.connector == connector)
            .map(|(id, intent, _)| OpenIntent {
                id: *id,
                intent: intent.clone(),
            })
            .collect())
    }
}
