//! Changing access safely: grants, revokes, account creation and actions.
//!
//! Every write to a user follows the same discipline:
//!
//! 1. **Serialise.** Writes to one user take that user's lock, so concurrent grants in this
//!    process never lose an update.
//! 2. **Re-read** the list (or flag) right before writing, with a `fields` projection.
//! 3. **Skip** the write when the state is already the intended one (already granted/revoked).
//! 4. **Write** the full list with `PUT /api/users/{id}`.
//! 5. **Verify** the list Coupa sends back: an id Coupa silently dropped (it does not exist) is an
//!    error that says so.
//! 6. **On a failed write, re-read**: a write whose response was lost may still have been applied.
//!    Converge to the intended state, or restore the original one, and report what happened.
//!
//! Across processes nothing serialises two writers: Coupa has no version check on `PUT`. The
//! re-read narrows the window to one round trip, and verification reports any write whose
//! result is not what was intended.

mod accounts;
mod actions;
mod licenses;
mod lists;

pub(crate) use accounts::Accounts;
pub(crate) use actions::SetActive;
pub(crate) use licenses::LicenseProvisioner;
pub(crate) use lists::ListProvisioner;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use connector_sdk::{ConnectorError, ResourceId};

use crate::ids;

/// One async lock per user id, so writes to one user never interleave in this process.
#[derive(Debug, Default)]
pub(crate) struct UserLocks {
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

impl UserLocks {
    /// Locks `user` until the guard drops.
    pub(crate) async fn lock(&self, user: i64) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            // Forget locks nobody holds, so the map stays as small as the writes in flight.
            locks.retain(|_, l| Arc::strong_count(l) > 1);
            locks.entry(user).or_default().clone()
        };
        lock.lock_owned().await
    }
}

/// A positive Coupa id from its text.
pub(crate) fn parse_id(text: &str, what: &str) -> Result<i64, ConnectorError> {
    match text.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ConnectorError::InvalidArgument(format!(
            "{what} id {text:?} is not a positive integer"
        ))),
    }
}

/// The Coupa user id of a principal, which must be a `user` resource.
pub(crate) fn user_id(principal: &ResourceId) -> Result<i64, ConnectorError> {
    if principal.resource_type.as_str() != ids::USER {
        return Err(ConnectorError::InvalidArgument(format!(
            "only users hold Coupa access; `{principal}` is not a user"
        )));
    }
    parse_id(&principal.id, "user")
}
