//! [`Connector`]: metadata and credential validation.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::ConnectorError;

/// Who a connector is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConnectorMetadata {
    /// Stable id, such as `coupa`.
    pub id: String,
    /// Name for people.
    pub display_name: String,
    /// What it connects to.
    pub description: String,
}

impl ConnectorMetadata {
    /// Metadata from an id, display name and description.
    pub fn new(
        id: impl Into<String>,
        display_name: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            display_name: display_name.into(),
            description: description.into(),
        }
    }
}

/// What a connector knows about itself beyond its capabilities: a cheap check that its
/// configuration works, and what determines a sync's output. Optional: a registration without
/// one validates nothing and fingerprints by connector id alone (see
/// [`crate::RegistryBuilder::connector`]).
#[async_trait]
pub trait Connector: Send + Sync {
    /// Proves the configuration and credentials work with one cheap real call. Returns warnings
    /// (for example a permission that only some features need) on success. Defaults to no
    /// check.
    async fn validate(&self) -> Result<Vec<String>, ConnectorError> {
        Ok(Vec::new())
    }

    /// What determines the output of a sync besides the connector id: the tenant (its URL, the
    /// client id) and the settings that change what is synced. An unfinished run is resumed only
    /// by a sync with the same fingerprint. Never include a secret. Defaults to empty: every
    /// configuration of the connector counts as the same.
    fn fingerprint(&self) -> String {
        String::new()
    }
}
