//! Changing access safely: grants, revokes, account creation and actions.
//!
//! Every write to a user goes through one helper ([`converge`]):
//!
//! 1. **Serialise.** Writes to one user take that user's lock, so concurrent writes in this
//!    process never lose an update.
//! 2. **Read projected.** The key is named in `fields`; a record without it is an error and
//!    nothing is written (absent is not empty).
//! 3. **Decide.** When the state already holds, nothing is written (already granted/revoked).
//! 4. **Write** the full list (or flag) with `PUT /api/users/{id}`, asking for the key in the
//!    answer; an answer without it is followed by a projected read.
//! 5. **Verify** by a projected read: an id Coupa silently dropped is reported, and a change
//!    another writer made after ours is converged again (a bounded number of times).
//! 6. **On a failed write, re-read**: a write whose answer was lost may still have been applied.
//!
//! Lists that only grow on a write (roles, as documented) are removed with Coupa's
//! clear-then-set, in a task that finishes or restores even when the caller stops waiting.
//! `docs/provisioning.md` says what is guaranteed within a process and across processes.

mod accounts;
mod actions;
mod converge;
mod error;
mod licenses;
mod lists;

pub use error::WriteError;

pub(crate) use accounts::Accounts;
pub(crate) use actions::SetActive;
pub(crate) use licenses::LicenseProvisioner;
pub(crate) use lists::ListProvisioner;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use connector_sdk::{ConnectorError, ResourceId};

use crate::ids::{self, canonical_id};

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

/// A Coupa id from its canonical text: digits only, no sign, no leading zero, so the id written
/// is the id named (`+7` and `007` are refused, never taken as user 7).
pub(crate) fn parse_id(text: &str, what: &str) -> Result<i64, ConnectorError> {
    canonical_id(text).ok_or_else(|| {
        ConnectorError::invalid_argument(format!(
            "{what} id {text:?} is not a positive integer in canonical form"
        ))
    })
}

/// The Coupa user id of a principal, which must be a `user` resource.
pub(crate) fn user_id(principal: &ResourceId) -> Result<i64, ConnectorError> {
    if principal.resource_type.as_str() != ids::USER {
        return Err(ConnectorError::invalid_argument(format!(
            "only users hold Coupa access; `{principal}` is not a user"
        )));
    }
    parse_id(&principal.id, "user")
}
