//! The engine's work items as the store keeps them.

use serde::{Deserialize, Serialize};

use crate::capability::PageToken;
use crate::model::Stage;
use crate::model::{Entitlement, Grant, Resource, ResourceId, ResourceTypeId};

/// The id of a stored work item: opaque, unique within its store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkId(pub(crate) i64);

impl WorkId {
    /// The id a backend stored as `raw`.
    pub fn from_raw(raw: i64) -> Self {
        Self(raw)
    }

    /// The number a backend stores.
    pub fn raw(self) -> i64 {
        self.0
    }
}

/// What a work item lists.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WorkKind {
    /// Resources of a type, under an optional parent.
    Resources {
        /// The type listed.
        resource_type: ResourceTypeId,
        /// The parent, for child listings.
        parent: Option<ResourceId>,
    },
    /// Entitlements of a resource.
    Entitlements {
        /// The resource.
        resource: ResourceId,
    },
    /// Grants of a resource's entitlements.
    Grants {
        /// The resource.
        resource: ResourceId,
    },
}

impl WorkKind {
    /// The stage the work belongs to.
    pub fn stage(&self) -> Stage {
        match self {
            Self::Resources { .. } => Stage::Resources,
            Self::Entitlements { .. } => Stage::Entitlements,
            Self::Grants { .. } => Stage::Grants,
        }
    }

    /// The resource type whose syncer does the work.
    pub fn resource_type(&self) -> &ResourceTypeId {
        match self {
            Self::Resources { resource_type, .. } => resource_type,
            Self::Entitlements { resource } | Self::Grants { resource } => &resource.resource_type,
        }
    }

    /// The parent (resources) or the resource (entitlements, grants) the work is about.
    pub fn scope(&self) -> Option<&ResourceId> {
        match self {
            Self::Resources { parent, .. } => parent.as_ref(),
            Self::Entitlements { resource } | Self::Grants { resource } => Some(resource),
        }
    }

    pub(crate) fn tag(&self) -> &'static str {
        match self {
            Self::Resources { .. } => "resources",
            Self::Entitlements { .. } => "entitlements",
            Self::Grants { .. } => "grants",
        }
    }

    pub(crate) fn from_parts(
        tag: &str,
        resource_type: ResourceTypeId,
        scope: Option<ResourceId>,
    ) -> Option<Self> {
        Some(match (tag, scope) {
            ("resources", parent) => Self::Resources {
                resource_type,
                parent,
            },
            ("entitlements", Some(resource)) => Self::Entitlements { resource },
            ("grants", Some(resource)) => Self::Grants { resource },
            _ => return None,
        })
    }
}

/// A work item to enqueue: one page of one listing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NewWork {
    /// The listing.
    pub kind: WorkKind,
    /// The page; `None` for the first.
    pub token: Option<PageToken>,
}

/// A stored work item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    /// Id.
    pub id: WorkId,
    /// The listing.
    pub kind: WorkKind,
    /// The page; `None` for the first.
    pub token: Option<PageToken>,
}

/// Everything one finished page writes, atomically.
#[derive(Debug, Clone, Default)]
pub struct PageCommit {
    /// The finished work item, deleted by the commit.
    pub done: Option<WorkId>,
    /// Resources to store (replacing rows with the same id).
    pub resources: Vec<Resource>,
    /// Entitlements to store (replacing rows with the same id).
    pub entitlements: Vec<Entitlement>,
    /// Grants to store (a grant already stored is kept).
    pub grants: Vec<Grant>,
    /// Warnings to record.
    pub warnings: Vec<String>,
    /// Work to enqueue.
    pub work: Vec<NewWork>,
}
