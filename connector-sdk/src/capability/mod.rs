//! Capability traits a connector implements, one per capability.

mod account;
mod action;
mod connector;
mod paging;
mod provision;
mod request;
mod run;
mod schema;
mod syncer;

pub use account::{AccountManager, CreateAccountOutcome};
pub use action::{Action, ActionSchema};
pub use connector::{Connector, ConnectorMetadata, Stat};
pub use paging::OffsetLanes;
pub use provision::{GrantOutcome, Provisioner, RevokeOutcome};
pub use request::{
    ActionRequest, ActionResult, CallContext, CreateAccountRequest, GrantRequest, RevokeRequest,
};
pub use run::RunContext;
pub use schema::{ArgumentError, Arguments, FieldKind, FieldSpec};
pub use syncer::{ListRequest, Page, PageToken, ResourceRequest, ResourceSyncer, SyncerOptions};
