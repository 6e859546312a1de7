//! The difference between two sync runs.

use serde::{Deserialize, Serialize};

use crate::model::{EntitlementId, GrantId, ResourceId};

/// What changed from one completed sync run to another. Each list is sorted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SyncDiff {
    /// Resources in the new run only.
    pub added_resources: Vec<ResourceId>,
    /// Resources in the old run only.
    pub removed_resources: Vec<ResourceId>,
    /// Entitlements in the new run only.
    pub added_entitlements: Vec<EntitlementId>,
    /// Entitlements in the old run only.
    pub removed_entitlements: Vec<EntitlementId>,
    /// Grants in the new run only.
    pub added_grants: Vec<GrantId>,
    /// Grants in the old run only.
    pub removed_grants: Vec<GrantId>,
}

impl SyncDiff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added_resources.is_empty()
            && self.removed_resources.is_empty()
            && self.added_entitlements.is_empty()
            && self.removed_entitlements.is_empty()
            && self.added_grants.is_empty()
            && self.removed_grants.is_empty()
    }
}
