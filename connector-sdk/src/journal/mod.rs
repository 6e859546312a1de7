//! The write-ahead journal of writes that take more than one request.
//!
//! Some upstream changes cannot be made in one request: Coupa removes a role from a user by
//! clearing the list and then setting what stays. A process that dies between the two leaves
//! the user with less access than anyone asked for. Before the first request of such a write,
//! the connector records an [`Intent`] (who, which list, what it held before, what changes) in
//! a [`Journal`] the host's store implements; after the verifying read it marks the intent
//! done. An intent still open when the process starts again is finished by
//! [`Registry::repair`](crate::Registry::repair), which asks the connector's
//! [`Provisioner::repair`](crate::Provisioner::repair) to put back what was there before (and
//! never to remove what someone added since).
//!
//! A host attaches its journal with [`Registry::with_journal`](crate::Registry::with_journal);
//! a connector reaches it through [`CallContext::begin_intent`](crate::CallContext::begin_intent).

mod handle;
mod repair;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{EntitlementId, ResourceId};
use crate::store::{Holder, StoreError};

pub use handle::{IntentGuard, WriteJournal};
pub use repair::{LeftAlone, RepairReport, RepairRequest, Repaired, Unrepaired};

/// Which way an intent changes access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IntentOperation {
    /// The principal is to receive the entitlement.
    Grant,
    /// The principal is to lose the entitlement.
    Revoke,
}

impl IntentOperation {
    /// `grant` or `revoke`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grant => "grant",
            Self::Revoke => "revoke",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "grant" => Some(Self::Grant),
            "revoke" => Some(Self::Revoke),
            _ => None,
        }
    }
}

impl fmt::Display for IntentOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a connector is about to change, in its own words: the principal, the entitlement
/// granted or revoked, the list (attribute) the write rewrites and the resources that list held
/// before the first request. The journal adds the tenant, the holder, the actor and the time.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IntentDraft {
    /// Whose access changes.
    pub principal: ResourceId,
    /// The entitlement granted or revoked.
    pub entitlement: EntitlementId,
    /// Grant or revoke.
    pub operation: IntentOperation,
    /// The attribute the write rewrites, as the connector names it (Coupa: `roles`).
    pub attribute: String,
    /// The resources the attribute held before the first request.
    pub before: Vec<ResourceId>,
}

impl IntentDraft {
    /// A revoke of `entitlement` from `principal`, rewriting `attribute`, which held `before`.
    pub fn revoke(
        principal: ResourceId,
        entitlement: EntitlementId,
        attribute: impl Into<String>,
        before: Vec<ResourceId>,
    ) -> Self {
        Self {
            principal,
            entitlement,
            operation: IntentOperation::Revoke,
            attribute: attribute.into(),
            before,
        }
    }

    /// A grant of `entitlement` to `principal`, rewriting `attribute`, which held `before`.
    pub fn grant(
        principal: ResourceId,
        entitlement: EntitlementId,
        attribute: impl Into<String>,
        before: Vec<ResourceId>,
    ) -> Self {
        Self {
            operation: IntentOperation::Grant,
            ..Self::revoke(principal, entitlement, attribute, before)
        }
    }
}

/// One recorded intent: the draft, and the tenant, process, actor and time it was recorded
/// with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Intent {
    /// The connector id.
    pub connector: String,
    /// The tenant (the registry's fingerprint) the write went to.
    pub fingerprint: String,
    /// The change.
    pub draft: IntentDraft,
    /// Who asked, as the host named them.
    pub actor: Option<String>,
    /// The process making the write.
    pub holder: Holder,
    /// When it was recorded, in milliseconds since the Unix epoch.
    pub started_at_ms: i64,
}

impl Intent {
    /// An intent of `connector` on the tenant `fingerprint`, by `holder`, recorded now.
    pub fn new(
        connector: impl Into<String>,
        fingerprint: impl Into<String>,
        draft: IntentDraft,
        holder: Holder,
    ) -> Self {
        Self {
            connector: connector.into(),
            fingerprint: fingerprint.into(),
            draft,
            actor: None,
            holder,
            started_at_ms: crate::store::now_ms(),
        }
    }

    /// Sets who asked.
    pub fn with_actor(mut self, actor: Option<String>) -> Self {
        self.actor = actor;
        self
    }
}

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let draft = &self.draft;
        let preposition = match draft.operation {
            IntentOperation::Grant => "to",
            IntentOperation::Revoke => "from",
        };
        write!(
            f,
            "{} of {} {preposition} {}",
            draft.operation, draft.entitlement, draft.principal
        )
    }
}

/// The id a journal gave an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IntentId(i64);

impl IntentId {
    /// The id a journal stored as `raw`.
    pub fn from_raw(raw: i64) -> Self {
        Self(raw)
    }

    /// The number a journal stores.
    pub fn raw(self) -> i64 {
        self.0
    }
}

impl fmt::Display for IntentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An intent not yet marked done.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenIntent {
    /// Its id.
    pub id: IntentId,
    /// What it records.
    pub intent: Intent,
}

/// Where intents are kept: a store implements it ([`SqliteStore`](crate::SqliteStore),
/// [`MemoryStore`](crate::MemoryStore)). Methods are synchronous like the store's;
/// [`WriteJournal`] calls them from a blocking thread.
pub trait Journal: Send + Sync {
    /// Records `intent` durably (a process killed after this returns finds it at its next
    /// start) and returns its id.
    fn record_intent(&self, intent: &Intent) -> Result<IntentId, StoreError>;

    /// Marks the intent done, with how it ended (`completed`, or what a repair restored).
    /// Done intents are kept a while for people to read, then dropped.
    fn close_intent(&self, id: IntentId, resolution: &str) -> Result<(), StoreError>;

    /// The intents of `connector` not yet marked done, oldest first.
    fn open_intents(&self, connector: &str) -> Result<Vec<OpenIntent>, StoreError>;
}

/// How long a done intent is kept before a later record drops it.
pub(crate) const KEEP_DONE_MS: i64 = 7 * 24 * 3600 * 1000;
