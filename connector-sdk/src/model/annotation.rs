//! Typed annotations attached to resources, entitlements and grants.

use serde::{Deserialize, Serialize};

use super::ResourceTypeId;

/// A typed annotation. The engine acts on some of them; hosts may read all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Annotation {
    /// On a resource: the engine lists resources of this type with this resource as their parent,
    /// after the parent has been stored.
    ChildResourceType {
        /// The child resource type.
        resource_type: ResourceTypeId,
    },
    /// On a resource: the engine does not ask the syncer for this resource's entitlements.
    SkipEntitlements,
    /// On a resource: the engine does not ask the syncer for this resource's grants.
    SkipGrants,
    /// A link to the object in the upstream system's own UI.
    ExternalLink {
        /// The URL.
        url: String,
    },
    /// On an entitlement or grant: it exists upstream but cannot be changed through the connector.
    Immutable,
    /// The id the upstream system uses where it differs from the resource id.
    ExternalId {
        /// The upstream id.
        id: String,
    },
}
