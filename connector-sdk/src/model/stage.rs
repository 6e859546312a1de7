//! The stages of a sync: vocabulary the engine, the store and errors share.

use std::fmt;

use serde::Serialize;

/// A stage of a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Stage {
    /// Storing the registered resource types.
    ResourceTypes,
    /// Listing resources, parents before children.
    Resources,
    /// Listing each resource's entitlements.
    Entitlements,
    /// Listing each resource's grants.
    Grants,
}

impl Stage {
    pub(crate) fn number(self) -> i64 {
        match self {
            Self::ResourceTypes => 0,
            Self::Resources => 1,
            Self::Entitlements => 2,
            Self::Grants => 3,
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ResourceTypes => "resource types",
            Self::Resources => "resources",
            Self::Entitlements => "entitlements",
            Self::Grants => "grants",
        })
    }
}
