//! A generic SDK for identity-governance connectors.
//!
//! A connector tells a host *who has access to what* inside a system, and changes it. This crate
//! holds everything that is not specific to one system:
//!
//! * the model: [`ResourceType`], [`Resource`], [`Entitlement`], [`Grant`] and their typed ids
//!   ([`ResourceId`], [`EntitlementId`], [`GrantId`]);
//! * the capability traits: [`ResourceSyncer`], [`Provisioner`], [`AccountManager`], [`Action`]
//!   and [`Connector`];
//! * the [`Registry`] a connector registers them in, and the capability [`Manifest`] derived
//!   from it;
//! * the [`SyncEngine`]: concurrent, resumable, bounded in memory, with one retry policy;
//! * the [`Store`] trait a host queries, with [`SqliteStore`] (embedded default) and
//!   [`MemoryStore`]; a crate storing runs elsewhere implements [`backend::WorkQueue`] too;
//! * with the `testing` feature, a conformance test kit (`connector_sdk::testing`).
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use async_trait::async_trait;
//! use connector_sdk::{
//!     Connector, ConnectorError, ConnectorMetadata, Fingerprint, ListRequest, Page, Registry, Resource, ResourceId,
//!     ResourceSyncer, ResourceTrait, ResourceType, SqliteStore, SyncConfig, SyncEngine,
//! };
//! use tokio_util::sync::CancellationToken;
//!
//! struct Users;
//!
//! #[async_trait]
//! impl ResourceSyncer for Users {
//!     fn resource_type(&self) -> ResourceType {
//!         ResourceType::new("user", "User", [ResourceTrait::User])
//!     }
//!     async fn list(&self, _request: ListRequest) -> Result<Page<Resource>, ConnectorError> {
//!         Ok(Page::new(vec![Resource::new(ResourceId::new("user", "1"), "Ada")]))
//!     }
//! }
//!
//! /// The configuration: one user in one place, so one fingerprint. A connector for a SaaS
//! /// names its tenant here (its URL, the client id).
//! struct Hello;
//!
//! impl Connector for Hello {
//!     fn fingerprint(&self) -> Fingerprint {
//!         Fingerprint::new("world", "hello")
//!     }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let hello = ConnectorMetadata::new("hello", "Hello", "A connector with one user");
//! let registry = Registry::builder(hello, Hello).syncer(Users).build()?;
//! let store = Arc::new(SqliteStore::open("hello.db")?);
//! let engine = SyncEngine::new(registry, store, SyncConfig::default().with_workers(8));
//! let report = engine.run(&CancellationToken::new()).await?;
//! println!("{} resources", report.counts.total_resources());
//! # Ok(())
//! # }
//! ```

mod audit;
pub mod backend;
mod capability;
mod engine;
mod error;
pub mod files;
mod fingerprint;
pub mod journal;
mod model;
mod registry;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use audit::{AUDIT_TARGET, Audit};
pub use capability::{
    AccountManager, Action, ActionRequest, ActionResult, ActionSchema, ArgumentError, Arguments,
    CallContext, Connector, ConnectorMetadata, CreateAccountOutcome, CreateAccountRequest,
    FieldKind, FieldSpec, GrantOutcome, GrantRequest, ListRequest, OffsetLanes, Page, PageToken,
    Provisioner, ResourceRequest, ResourceSyncer, RevokeOutcome, RevokeRequest, RunContext, Stat,
    SyncerOptions,
};
pub use engine::{
    IntegrityMode, PageObserver, Progress, RetryDecision, RetryPolicy, StoredPage, SyncConfig,
    SyncEngine, SyncEvent, SyncReport,
};
pub use error::{BoxError, ConnectorError, Error, ErrorKind, SyncContext, error_chain};
pub use fingerprint::{Fingerprint, FingerprintError};
pub use model::{
    AccountType, Annotation, Email, Entitlement, EntitlementId, Grant, GrantId, IdParseError,
    Purpose, Resource, ResourceId, ResourceStatus, ResourceTrait, ResourceType, ResourceTypeId,
    Stage, UserTrait,
};
pub use registry::{
    AccountCreation, Capability, Manifest, ManifestResourceType, Registry, RegistryBuilder,
};
pub use store::{
    Holder, IntegrityIssue, IntegrityKind, MemoryStore, RunCounts, RunId, RunStatus, SqliteStore,
    Store, StoreError, SyncDiff, SyncRun,
};
#[cfg(feature = "postgres")]
pub use store::{PostgresOptions, PostgresStore};

/// The workspace README's Rust examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
