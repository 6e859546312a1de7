//! The system the connector reaches: a directory kept in one JSON file. In a connector for a
//! SaaS this is the API client (for Coupa, the `coupa-client` crate); the connector in the parent
//! module only turns it into resources, entitlements and grants.

use std::path::PathBuf;

use connector_sdk::ConnectorError;
use serde::{Deserialize, Serialize};

/// The file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    /// Users.
    #[serde(default)]
    pub users: Vec<User>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<Group>,
}

/// One user; the id is also the login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Unique id.
    pub id: String,
    /// Full name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Whether the account is enabled (default `true`).
    #[serde(default = "enabled")]
    pub active: bool,
}

fn enabled() -> bool {
    true
}

/// One group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Unique id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Ids of member users.
    #[serde(default)]
    pub members: Vec<String>,
}

/// The file. A change reads, edits and atomically replaces it under one lock, so concurrent
/// writes never lose an update.
#[derive(Debug)]
pub(crate) struct File {
    path: PathBuf,
    lock: tokio::sync::Mutex<()>,
}

impl File {
    /// The path made absolute and free of links and `..` where the file exists, as given
    /// otherwise.
    pub(crate) fn canonical_path(&self) -> String {
        std::fs::canonicalize(&self.path)
            .unwrap_or_else(|_| self.path.clone())
            .display()
            .to_string()
    }

    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    fn fail(&self, what: &str, e: std::io::Error) -> ConnectorError {
        ConnectorError::fatal_with(format!("{} {what}", self.path.display()), e)
    }

    pub(crate) async fn read(&self) -> Result<Directory, ConnectorError> {
        let text = tokio::fs::read_to_string(&self.path).await;
        let text = text.map_err(|e| self.fail("cannot be read", e))?;
        serde_json::from_str(&text).map_err(|e| self.fail("is not a directory file", e.into()))
    }

    /// Applies `change`, which says what to answer and whether it changed the directory, and
    /// writes the file when it did.
    pub(crate) async fn update<T>(
        &self,
        change: impl FnOnce(&mut Directory) -> Result<(T, bool), ConnectorError>,
    ) -> Result<T, ConnectorError> {
        let _held = self.lock.lock().await;
        let mut directory = self.read().await?;
        let (answer, changed) = change(&mut directory)?;
        if changed {
            let tmp = self.path.with_extension("json.tmp");
            let write = async {
                tokio::fs::write(&tmp, serde_json::to_vec_pretty(&directory)?).await?;
                tokio::fs::rename(&tmp, &self.path).await
            };
            write.await.map_err(|e| self.fail("cannot be written", e))?;
        }
        Ok(answer)
    }
}
