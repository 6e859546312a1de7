//! The sync engine: drives a connector's syncers through the stages resource types, resources,
//! entitlements and grants, storing each page with the work it produced in one transaction.
//!
//! * **Resume.** Pending work lives in the store. A sync killed at any moment leaves the run
//!   unfinished; the next [`SyncEngine::run`] picks it up from its last committed page.
//! * **Bounded memory.** At most `workers` pages are held at once, whatever the tenant's size.
//! * **Concurrency.** Up to `workers` calls run at once, across resources and across the page
//!   tokens one listing hands out together.
//! * **No loops.** A page token repeated within one listing fails the sync, naming the syncer.
//! * **Retries.** One [`RetryPolicy`] for every call; rate-limit errors wait and retry the page.

mod config;
mod event;
mod observer;
mod retry;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::broadcast;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use config::{IntegrityMode, SyncConfig};
pub use event::{Progress, SyncEvent, SyncReport};
pub use observer::{PageObserver, StoredPage};
pub use retry::{RetryDecision, RetryPolicy};

use crate::Fingerprint;
use crate::capability::{
    ListRequest, Page, PageToken, ResourceRequest, ResourceSyncer, RunContext,
};
use crate::error::{ConnectorError, Error, ErrorKind, SyncContext};
use crate::model::{Annotation, Entitlement, Grant, Resource, ResourceTypeId, Stage};
use crate::registry::Registry;
use crate::store::{
    BeginRun, Begun, Holder, NewWork, PageCommit, RunId, RunStatus, StoreError, WorkItem, WorkKind,
    WorkQueue, now_ms,
};

/// How many integrity violations an error or report lists in full.
const INTEGRITY_SAMPLE: usize = 20;

/// Runs syncs of one registered connector into one store.
pub struct SyncEngine {
    registry: Registry,
    store: Arc<dyn WorkQueue>,
    config: SyncConfig,
    events: broadcast::Sender<SyncEvent>,
    observer: Option<Arc<dyn PageObserver>>,
}

impl fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncEngine")
            .field("registry", &self.registry)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The fingerprint part naming a run's selection of resource types.
const SELECTION: &str = "resource_types";

/// Whether the stored fingerprint of a run is of the same tenant and settings as `current`,
/// whatever either selected of the resource types.
fn same_tenant(stored: &str, current: &Fingerprint) -> bool {
    let Ok(stored) = Fingerprint::decode(stored) else {
        return false;
    };
    match (stored.without(SELECTION), current.without(SELECTION)) {
        (Some(a), Some(b)) => a.matches(&b),
        _ => false,
    }
}

/// What one fetch task brings back.
struct Fetched {
    item: WorkItem,
    outcome: Result<Parts, Failure>,
    retries: u64,
    rate_limit_waits: u64,
    waited: Duration,
}

struct Failure {
    error: ConnectorError,
    calls: u32,
}

/// The rows of one page, before the engine turns them into a commit.
#[derive(Default)]
struct Parts {
    resources: Vec<Resource>,
    /// Resources of other types carried by the page.
    related: Vec<Resource>,
    entitlements: Vec<Entitlement>,
    grants: Vec<Grant>,
    warnings: Vec<String>,
    next: Vec<PageToken>,
}

impl Parts {
    fn from_page<T>(page: Page<T>, place: impl FnOnce(&mut Self, Vec<T>)) -> Self {
        let mut parts = Self {
            resources: Vec::new(),
            related: page.resources,
            entitlements: page.entitlements,
            grants: page.grants,
            warnings: page.warnings,
            next: page.next,
        };
        place(&mut parts, page.items);
        parts
    }
}

fn context(item: &WorkItem) -> Box<SyncContext> {
    Box::new(SyncContext {
        stage: item.kind.stage(),
        resource_type: item.kind.resource_type().clone(),
        resource: item.kind.scope().cloned(),
    })
}

async fn call(
    syncer: &dyn ResourceSyncer,
    item: &WorkItem,
    parallelism: usize,
    run: &RunContext,
) -> Result<Parts, ConnectorError> {
    let token = item.token.clone();
    Ok(match &item.kind {
        WorkKind::Resources { parent, .. } => {
            let page = syncer
                .list(ListRequest::new(parent.clone(), token, parallelism).with_run(run.clone()))
                .await?;
            Parts::from_page(page, |p, items| p.resources = items)
        }
        WorkKind::Entitlements { resource } => {
            let page = syncer
                .entitlements(
                    ResourceRequest::new(resource.clone(), token, parallelism)
                        .with_run(run.clone()),
                )
                .await?;
            Parts::from_page(page, |p, items| p.entitlements.extend(items))
        }
        WorkKind::Grants { resource } => {
            let page = syncer
                .grants(
                    ResourceRequest::new(resource.clone(), token, parallelism)
                        .with_run(run.clone()),
                )
                .await?;
            Parts::from_page(page, |p, items| p.grants.extend(items))
        }
    })
}

/// Fetches one page, retrying by the policy.
async fn fetch(
    syncer: Arc<dyn ResourceSyncer>,
    item: WorkItem,
    parallelism: usize,
    run: RunContext,
    policy: RetryPolicy,
    events: broadcast::Sender<SyncEvent>,
) -> Fetched {
    let mut fetched = Fetched {
        item,
        outcome: Ok(Parts::default()),
        retries: 0,
        rate_limit_waits: 0,
        waited: Duration::ZERO,
    };
    let mut calls = 0u32;
    let mut failures = 0u32;
    let mut waits = 0u32;
    loop {
        calls += 1;
        let error = match call(syncer.as_ref(), &fetched.item, parallelism, &run).await {
            Ok(parts) => {
                fetched.outcome = Ok(parts);
                return fetched;
            }
            Err(error) => error,
        };
        if error.kind() == ErrorKind::Transient {
            failures += 1;
        }
        let stage = fetched.item.kind.stage();
        let resource_type = fetched.item.kind.resource_type().clone();
        match policy.decide(&error, failures, waits, rand::random::<f64>()) {
            RetryDecision::Retry {
                after,
                rate_limited: true,
            } => {
                waits += 1;
                fetched.rate_limit_waits += 1;
                fetched.waited += after;
                tracing::debug!(%stage, %resource_type, wait_ms = after.as_millis() as u64, "rate limited");
                let _ = events.send(SyncEvent::RateLimited {
                    stage,
                    resource_type,
                    wait: after,
                });
                tokio::time::sleep(after).await;
            }
            RetryDecision::Retry {
                after,
                rate_limited: false,
            } => {
                fetched.retries += 1;
                fetched.waited += after;
                tracing::warn!(%stage, %resource_type, attempt = failures, error = %error, "retrying");
                let _ = events.send(SyncEvent::Retrying {
                    stage,
                    resource_type,
                    attempt: failures,
                    delay: after,
                    error: error.to_string(),
                });
                tokio::time::sleep(after).await;
            }
            RetryDecision::GiveUp => {
                fetched.outcome = Err(Failure { error, calls });
                return fetched;
            }
        }
    }
}

impl SyncEngine {
    /// An engine for `registry`'s connector storing into `store`.
    /// `store` is any backend: an `Arc<SqliteStore>`, an `Arc<MemoryStore>`, or another
    /// [`WorkQueue`] implementation.
    pub fn new(registry: Registry, store: Arc<dyn WorkQueue>, config: SyncConfig) -> Self {
        let (events, _) = broadcast::channel(config.event_capacity.max(1));
        Self {
            registry,
            store,
            config,
            events,
            observer: None,
        }
    }

    /// Hands the rows of every stored page to `observer` as the sync goes (see
    /// [`PageObserver`]).
    pub fn with_observer(mut self, observer: Arc<dyn PageObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The store, for queries.
    pub fn store(&self) -> Arc<dyn crate::Store> {
        self.store.clone()
    }

    /// Progress events, as a stream that ends when the engine is dropped. A consumer that
    /// falls more than `event_capacity` events behind skips the oldest; the final
    /// [`SyncReport`] is always complete.
    pub fn subscribe(&self) -> BoxStream<'static, SyncEvent> {
        let receiver = self.events.subscribe();
        futures::stream::unfold(receiver, |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(event) => return Some((event, receiver)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .boxed()
    }

    fn emit(&self, event: SyncEvent) {
        let _ = self.events.send(event);
    }

    async fn in_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn WorkQueue) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, Error> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| Error::Internal {
                task: "store",
                source: Box::new(e),
            })?
            .map_err(Error::from)
    }

    /// Runs a sync to completion. Resumes the connector's unfinished run when it may (same
    /// fingerprint, younger than `max_resume_age`, `resume` on); otherwise marks it failed, says
    /// why in a warning, and starts a new run. Fails with [`Error::InProgress`] when another
    /// engine holds the run with a fresh heartbeat. Cancelling `cancel` stops the sync promptly;
    /// the run can be resumed later. A run stopped by an error that resuming cannot fix is marked
    /// failed, so it is never resumed.
    pub async fn run(&self, cancel: &CancellationToken) -> Result<SyncReport, Error> {
        let started = Instant::now();
        let holder = Holder::current();
        self.registry.resume_learned(&self.store).await;
        let result = self.run_held(&holder, started, cancel).await;
        self.registry.keep_learned(&self.store).await;
        result
    }

    async fn run_held(
        &self,
        holder: &Holder,
        started: Instant,
        cancel: &CancellationToken,
    ) -> Result<SyncReport, Error> {
        let begun = self.begin(holder).await?;
        let run = begun.run;
        let resumed = begun.resumed;
        tracing::info!(%run, resumed, "sync started");
        self.emit(SyncEvent::Started { run, resumed });
        if let Some(observer) = &self.observer {
            observer.started(run, resumed);
        }
        if let Some(reason) = &begun.not_resumed {
            tracing::warn!(%run, reason = %reason, "unfinished run not resumed");
            self.emit(SyncEvent::Warning {
                message: reason.clone(),
            });
        }
        if !resumed {
            self.emit(SyncEvent::StageStarted {
                stage: Stage::ResourceTypes,
            });
        }
        // The lease: a heartbeat while the sync runs; losing it stops the sync. A host that
        // drops this future (a timeout, a `select!`) stops the heartbeat too, so the run can
        // be taken over once its heartbeat is stale.
        let stop = cancel.child_token();
        let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let heartbeat = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(beat(
            Arc::clone(&self.store),
            run,
            holder.id.clone(),
            self.config.lease_ttl / 4,
            stop.clone(),
            Arc::clone(&lost),
        )));
        let context = match self.selection() {
            Some(types) => RunContext::with_selection(types),
            None => RunContext::new(),
        };
        let drained = self.drain(run, &holder.id, &context, &stop).await;
        heartbeat.abort();
        let result = match drained {
            Ok(progress) => {
                if let Some(observer) = &self.observer {
                    observer.drained(run);
                }
                self.finish(
                    run,
                    &holder.id,
                    resumed,
                    begun.not_resumed,
                    progress,
                    started,
                )
                .await
            }
            Err(_) if lost.load(std::sync::atomic::Ordering::SeqCst) => Err(Error::LeaseLost(run)),
            Err(Error::Store(StoreError::LeaseLost(_))) => Err(Error::LeaseLost(run)),
            Err(error) => Err(error),
        };
        if let Err(error) = &result {
            self.settle(run, &holder.id, error).await;
        }
        result
    }

    /// Whether this engine's runs sync `resource_type`.
    fn selected(&self, resource_type: &ResourceTypeId) -> bool {
        self.config
            .resource_types
            .as_ref()
            .is_none_or(|types| types.contains(resource_type))
    }

    /// The selection of resource types, when it leaves some registered type out.
    fn selection(&self) -> Option<std::collections::BTreeSet<ResourceTypeId>> {
        let selected = self.config.resource_types.as_ref()?;
        let registered: std::collections::BTreeSet<ResourceTypeId> = self
            .registry
            .resource_types()
            .into_iter()
            .map(|t| t.id)
            .collect();
        (!registered.is_subset(selected))
            .then(|| registered.intersection(selected).cloned().collect())
    }

    /// The fingerprint of this engine's runs: the registration's, with the selection of
    /// resource types when there is one.
    fn run_fingerprint(&self) -> Fingerprint {
        let fingerprint = self.registry.fingerprint();
        match self.selection() {
            None => fingerprint,
            Some(types) => {
                let types: Vec<&str> = types.iter().map(ResourceTypeId::as_str).collect();
                fingerprint.with(SELECTION, types.join(","))
            }
        }
    }

    /// Begins (or resumes) a run held by `holder`.
    async fn begin(&self, holder: &Holder) -> Result<Begun, Error> {
        let connector = self.registry.metadata().id.clone();
        let fingerprint = self.run_fingerprint();
        let types: Vec<_> = self
            .registry
            .resource_types()
            .into_iter()
            .filter(|t| self.selected(&t.id))
            .collect();
        let work: Vec<NewWork> = self
            .registry
            .syncers()
            .filter(|s| s.options.top_level && self.selected(&s.resource_type.id))
            .map(|s| NewWork {
                kind: WorkKind::Resources {
                    resource_type: s.resource_type.id.clone(),
                    parent: None,
                },
                token: None,
            })
            .collect();
        if !self.config.fingerprint_change {
            let (connector, current) = (connector.clone(), fingerprint.clone());
            let ours = current.clone();
            let latest = self
                .in_store(move |s| {
                    // A store of many tenants refuses only against its runs of this tenant.
                    let tenant = ours.get("tenant").filter(|_| s.many_tenants());
                    Ok(s.runs()?.into_iter().rev().find(|r| {
                        r.connector == connector
                            && r.status == RunStatus::Completed
                            && tenant.is_none_or(|t| crate::store::of_tenant(&r.fingerprint, t))
                    }))
                })
                .await?;
            if let Some(latest) = latest.filter(|r| !same_tenant(&r.fingerprint, &current)) {
                return Err(Error::OtherFingerprint {
                    run: latest.id,
                    stored: latest.fingerprint,
                    current: current.encode(),
                });
            }
        }
        let holder = holder.clone();
        let config = self.config.clone();
        let begun = self
            .in_store(move |s| {
                let begin = BeginRun::new(&connector, &fingerprint, &holder)
                    .with_work(&types, &work)
                    .with_resume(config.resume)
                    .with_max_resume_age(config.max_resume_age)
                    .with_lease_ttl(config.lease_ttl);
                s.begin_run(&begin)
            })
            .await;
        match begun {
            Err(Error::Store(StoreError::InProgress {
                run,
                holder,
                heartbeat_ms,
            })) => Err(Error::InProgress {
                run,
                holder,
                heartbeat_age: Duration::from_millis(
                    u64::try_from(now_ms().saturating_sub(heartbeat_ms)).unwrap_or(0),
                ),
            }),
            other => other,
        }
    }

    /// After a failed sync: an error resuming cannot fix marks the run failed; any other leaves
    /// it resumable and lets go of it. A store that fails here is logged: the sync's own error is
    /// what the caller needs.
    async fn settle(&self, run: RunId, lease: &str, error: &Error) {
        let lease = lease.to_owned();
        let settled = if resumable(error) {
            self.in_store(move |s| s.release_run(run, &lease)).await
        } else {
            let reason = crate::error::error_chain(error);
            self.in_store(move |s| s.finish_run(run, RunStatus::Failed, Some(&reason)))
                .await
        };
        match settled {
            Ok(()) | Err(Error::Store(StoreError::LeaseLost(_))) => {}
            Err(e) => tracing::error!(%run, error = %e, "could not record how the sync ended"),
        }
    }

    /// Runs work items until none is left.
    async fn drain(
        &self,
        run: RunId,
        lease: &str,
        shared: &RunContext,
        cancel: &CancellationToken,
    ) -> Result<Progress, Error> {
        let workers = self.config.workers.max(1);
        let mut progress = Progress::default();
        let mut tasks: JoinSet<Fetched> = JoinSet::new();
        let mut stage = Stage::ResourceTypes;
        loop {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            // Every loop turn stores one page, which may have produced new work: top up.
            if tasks.len() < workers {
                let want = workers - tasks.len();
                let lease = lease.to_owned();
                let items = self
                    .in_store(move |s| s.claim_work(run, &lease, want))
                    .await?;
                for item in items {
                    let item_stage = item.kind.stage();
                    if item_stage > stage {
                        stage = item_stage;
                        self.emit(SyncEvent::StageStarted { stage });
                    }
                    let syncer =
                        self.registry
                            .syncer(item.kind.resource_type())
                            .ok_or_else(|| {
                                Error::Registration(format!(
                                    "pending work for resource type `{}`, which has no syncer",
                                    item.kind.resource_type()
                                ))
                            })?;
                    tasks.spawn(fetch(
                        Arc::clone(&syncer.syncer),
                        item,
                        workers,
                        shared.clone(),
                        self.config.retry.clone(),
                        self.events.clone(),
                    ));
                }
            }
            let joined = tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(Error::Cancelled),
                joined = tasks.join_next() => joined,
            };
            let Some(joined) = joined else {
                // No task in flight and nothing claimable: done.
                return Ok(progress);
            };
            let fetched = joined.map_err(|e| Error::Internal {
                task: "fetch",
                source: Box::new(e),
            })?;
            progress.retries += fetched.retries;
            progress.rate_limit_waits += fetched.rate_limit_waits;
            progress.waited += fetched.waited;
            let item = fetched.item;
            let parts = match fetched.outcome {
                Ok(parts) => parts,
                Err(Failure { error, calls }) => {
                    let context = context(&item);
                    return Err(match error.kind() {
                        kind if kind.retried_by_engine() => Error::RetriesExhausted {
                            context,
                            attempts: calls,
                            source: error,
                        },
                        _ => Error::Connector {
                            context,
                            source: error,
                        },
                    });
                }
            };
            let commit = self.build_commit(&item, parts)?;
            progress.pages += 1;
            progress.resources += commit.resources.len() as u64;
            progress.entitlements += commit.entitlements.len() as u64;
            progress.grants += commit.grants.len() as u64;
            for message in &commit.warnings {
                tracing::warn!(warning = %message, "connector warning");
                self.emit(SyncEvent::Warning {
                    message: message.clone(),
                });
            }
            let owner = lease.to_owned();
            let stored = self
                .in_store(move |s| s.commit_page(run, &owner, &commit).map(|()| commit))
                .await;
            let commit = match stored {
                Err(Error::Store(StoreError::TokenRepeated { token })) => {
                    return Err(Error::PageTokenRepeated {
                        syncer: item.kind.resource_type().clone(),
                        context: context(&item),
                        token,
                    });
                }
                other => other?,
            };
            if let Some(observer) = &self.observer {
                observer.stored(
                    run,
                    StoredPage {
                        resources: commit.resources,
                        entitlements: commit.entitlements,
                        grants: commit.grants,
                    },
                );
            }
            self.emit(SyncEvent::PageStored {
                stage: item.kind.stage(),
                resource_type: item.kind.resource_type().clone(),
                progress,
            });
        }
    }

    /// Turns a fetched page into rows and new work.
    fn build_commit(&self, item: &WorkItem, parts: Parts) -> Result<PageCommit, Error> {
        let fatal = |message: String| Error::Connector {
            context: context(item),
            source: ConnectorError::fatal(message),
        };
        let mut work: Vec<NewWork> = parts
            .next
            .into_iter()
            .map(|token| NewWork {
                kind: item.kind.clone(),
                token: Some(token),
            })
            .collect();
        let mut resources = parts.resources;
        if let WorkKind::Resources {
            resource_type,
            parent,
        } = &item.kind
        {
            for resource in &mut resources {
                if &resource.id.resource_type != resource_type {
                    return Err(fatal(format!(
                        "the `{resource_type}` syncer listed resource `{}` of another type",
                        resource.id
                    )));
                }
                if resource.parent.is_none() {
                    resource.parent.clone_from(parent);
                }
            }
        }
        resources.extend(
            parts
                .related
                .into_iter()
                .filter(|r| self.selected(&r.id.resource_type)),
        );
        for resource in &resources {
            let options = self
                .registry
                .syncer(&resource.id.resource_type)
                .map(|s| s.options)
                .ok_or_else(|| {
                    fatal(format!(
                        "resource `{}` has type `{}`, which has no syncer",
                        resource.id, resource.id.resource_type
                    ))
                })?;
            if options.entitlements && !resource.has_annotation(&Annotation::SkipEntitlements) {
                work.push(NewWork {
                    kind: WorkKind::Entitlements {
                        resource: resource.id.clone(),
                    },
                    token: None,
                });
            }
            if options.grants && !resource.has_annotation(&Annotation::SkipGrants) {
                work.push(NewWork {
                    kind: WorkKind::Grants {
                        resource: resource.id.clone(),
                    },
                    token: None,
                });
            }
            for child in resource.child_types() {
                if !self.selected(child) {
                    continue;
                }
                if self.registry.syncer(child).is_none() {
                    return Err(fatal(format!(
                        "resource `{}` declares child type `{child}`, which has no syncer",
                        resource.id
                    )));
                }
                work.push(NewWork {
                    kind: WorkKind::Resources {
                        resource_type: child.clone(),
                        parent: Some(resource.id.clone()),
                    },
                    token: None,
                });
            }
        }
        let mut entitlements = parts.entitlements;
        let mut grants = parts.grants;
        if self.config.resource_types.is_some() {
            entitlements.retain(|e| self.selected(&e.id.resource.resource_type));
            grants.retain(|g| {
                self.selected(&g.entitlement.resource.resource_type)
                    && self.selected(&g.principal.resource_type)
            });
        }
        Ok(PageCommit {
            done: Some(item.id),
            resources,
            entitlements,
            grants,
            warnings: parts.warnings,
            work,
        })
    }

    async fn finish(
        &self,
        run: RunId,
        lease: &str,
        resumed: bool,
        not_resumed: Option<String>,
        progress: Progress,
        started: Instant,
    ) -> Result<SyncReport, Error> {
        self.in_store(move |s| s.seal_run(run)).await?;
        let (violations, issues) = self
            .in_store(move |s| s.integrity_issues(run, INTEGRITY_SAMPLE))
            .await?;
        if violations > 0 {
            match self.config.integrity {
                IntegrityMode::Error => {
                    // The caller marks the run failed with this error.
                    return Err(Error::Integrity {
                        count: violations,
                        first: issues,
                    });
                }
                IntegrityMode::Warn => {
                    let mut warnings =
                        vec![format!("{violations} grant(s) failed integrity checks")];
                    warnings.extend(issues.iter().map(ToString::to_string));
                    for message in &warnings {
                        self.emit(SyncEvent::Warning {
                            message: message.clone(),
                        });
                    }
                    let commit = PageCommit {
                        warnings,
                        ..PageCommit::default()
                    };
                    let lease = lease.to_owned();
                    self.in_store(move |s| s.commit_page(run, &lease, &commit))
                        .await?;
                }
            }
        }
        self.in_store(move |s| s.finish_run(run, RunStatus::Completed, None))
            .await?;
        let counts = self.in_store(move |s| s.counts(run)).await?;
        let mut warnings = self.in_store(move |s| s.warnings(run)).await?;
        warnings.extend(not_resumed);
        if let Some(keep) = self.config.keep_runs {
            let connector = self.registry.metadata().id.clone();
            let tenant = self.run_fingerprint().get("tenant").map(str::to_owned);
            match self
                .in_store(move |s| {
                    let tenant = tenant.as_deref().filter(|_| s.many_tenants());
                    s.prune(&connector, tenant, keep)
                })
                .await
            {
                Ok(pruned) if !pruned.is_empty() => {
                    tracing::info!(%run, pruned = ?pruned, "older runs pruned");
                }
                Ok(_) => {}
                Err(error) => {
                    let message = format!(
                        "pruning older runs failed: {}",
                        crate::error::error_chain(&error)
                    );
                    tracing::warn!(%run, "{message}");
                    warnings.push(message);
                }
            }
        }
        tracing::info!(%run, pages = progress.pages, grants = progress.grants, "sync completed");
        self.emit(SyncEvent::Completed { progress });
        Ok(SyncReport {
            run,
            resumed,
            progress,
            counts,
            warnings,
            integrity_issues: issues,
            integrity_violations: violations,
            duration: started.elapsed(),
        })
    }
}

/// Beats the lease every `every` until `stop`; a lost lease (or a store that fails to beat)
/// cancels `stop`, so the sync ends before it writes for a run it no longer holds.
async fn beat(
    store: Arc<dyn WorkQueue>,
    run: RunId,
    lease: String,
    every: Duration,
    stop: CancellationToken,
    lost: Arc<std::sync::atomic::AtomicBool>,
) {
    let every = every.max(Duration::from_millis(100));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let store = Arc::clone(&store);
        let lease = lease.clone();
        let beat = tokio::task::spawn_blocking(move || store.heartbeat(run, &lease)).await;
        match beat {
            Ok(Ok(())) => {}
            Ok(Err(StoreError::LeaseLost(_))) => {
                tracing::error!(%run, "lease lost to another engine; stopping");
                lost.store(true, std::sync::atomic::Ordering::SeqCst);
                stop.cancel();
                return;
            }
            Ok(Err(e)) => tracing::warn!(%run, error = %e, "heartbeat failed"),
            Err(e) => tracing::warn!(%run, error = %e, "heartbeat task failed"),
        }
    }
}

/// Whether a run stopped by `error` may be resumed: cancellation, upstream failures that outlast
/// retries, store trouble and a lost lease leave it resumable; a connector's own error, a paging
/// bug or integrity violations would recur, so the run is marked failed.
fn resumable(error: &Error) -> bool {
    match error {
        Error::Cancelled
        | Error::RetriesExhausted { .. }
        | Error::Store(_)
        | Error::LeaseLost(_)
        | Error::InProgress { .. }
        | Error::Internal { .. } => true,
        Error::Connector { source, .. } => matches!(
            source.kind(),
            ErrorKind::RetriedByConnector | ErrorKind::Transient | ErrorKind::RateLimited
        ),
        _ => false,
    }
}
