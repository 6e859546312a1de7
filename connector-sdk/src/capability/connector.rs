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

/// A counter a connector reports about itself (requests sent, retries, waits), read whenever a
/// host asks ([`Connector::stats`]): a service exports each as a metric of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stat {
    /// The name, such as `coupa_http_requests` (letters, digits and `_`).
    pub name: String,
    /// What it counts, for people.
    pub help: String,
    /// Its current value.
    pub value: u64,
}

impl Stat {
    /// A value named `name`.
    pub fn new(name: impl Into<String>, help: impl Into<String>, value: u64) -> Self {
        Self {
            name: name.into(),
            help: help.into(),
            value,
        }
    }
}

/// What a connector knows about itself beyond its capabilities: what determines a sync's output
/// (required: every registration names its [`Connector`], see [`crate::Registry::builder`]),
/// and a cheap check that its configuration works.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Proves the configuration and credentials work with one cheap real call. Returns warnings
    /// (for example a permission that only some features need) on success. Defaults to no
    /// check.
    async fn validate(&self) -> Result<Vec<String>, ConnectorError> {
        Ok(Vec::new())
    }

    /// What determines the output of a sync besides the connector id: the tenant (its URL, the
    /// client id, the file it reads) and the settings that change what is synced. It must differ
    /// between two configurations that would sync different things: an unfinished run is resumed
    /// only by a sync with the same fingerprint, and a store or `.c1z` file of one fingerprint
    /// refuses another's sync. No default, so no connector inherits "every configuration is the
    /// same"; `testing::check_fingerprint` (feature `testing`) checks it. Never include a secret.
    fn fingerprint(&self) -> crate::Fingerprint;

    /// The connector's own counters, now: the same names every call, in the same order.
    /// Defaults to none.
    fn stats(&self) -> Vec<Stat> {
        Vec::new()
    }

    /// What the connector learned of its tenant that the next process should start from (the
    /// rate an upstream grants, say), as text of its own choosing; the engine stores it with
    /// the tenant's fingerprint after each sync. Defaults to nothing.
    fn learned(&self) -> Option<String> {
        None
    }

    /// Starts from what an earlier process learned (`learned`, stored `age` ago). Called once
    /// per registration, before its first sync. Defaults to ignoring it.
    fn resume_learned(&self, learned: &str, age: std::time::Duration) {
        let _ = (learned, age);
    }
}
