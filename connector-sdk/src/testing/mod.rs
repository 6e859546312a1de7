//! A conformance test kit for connector authors (feature `testing`).
//!
//! [`check_sync`] runs a connector through a full sync into a [`MemoryStore`] and checks that
//! paging terminates, ids are unique, and the engine accepts every page (no repeated token, no
//! unregistered type, every grant pointing at a synced entitlement and an existing principal of
//! a grantable type).
//! [`check_provisioning`] runs the round trip grant → sync shows it → grant again (already
//! granted) → revoke → sync shows it gone → revoke again (already revoked).
//!
//! ```no_run
//! # async fn t(registry: connector_sdk::Registry) {
//! let checked = connector_sdk::testing::check_sync(&registry).await.unwrap();
//! assert!(checked.report.counts.total_resources() > 0);
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::capability::{GrantOutcome, RevokeOutcome};
use crate::engine::{IntegrityMode, SyncConfig, SyncEngine, SyncReport};
use crate::error::Error;
use crate::model::{EntitlementId, Grant, ResourceId};
use crate::registry::Registry;
use crate::store::{MemoryStore, RunId, Store};

pub mod fake;

/// A [`crate::Connector`] for tests: a fixed fingerprint (one part, `tenant`) and no
/// validation. A real connector derives its fingerprint from its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedFingerprint(pub &'static str);

impl crate::Connector for FixedFingerprint {
    fn fingerprint(&self) -> crate::Fingerprint {
        crate::Fingerprint::new("tenant", self.0)
    }
}

/// A failed conformance check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConformanceError {
    /// A check failed.
    #[error("conformance check `{check}` failed: {detail}")]
    Check {
        /// The check's name.
        check: &'static str,
        /// What was found.
        detail: String,
    },
    /// The SDK or the connector returned an error.
    #[error("conformance run failed")]
    Sdk(#[from] Error),
}

fn fail(check: &'static str, detail: impl Into<String>) -> ConformanceError {
    ConformanceError::Check {
        check,
        detail: detail.into(),
    }
}

/// What a conformance sync produced, for further assertions.
#[derive(Debug)]
#[non_exhaustive]
pub struct CheckedSync {
    /// The engine's report.
    pub report: SyncReport,
    /// The store the sync wrote.
    pub store: Arc<MemoryStore>,
    /// The run.
    pub run: RunId,
}

/// How long a conformance sync may take before "paging terminates" fails.
const SYNC_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs a full sync into a fresh [`MemoryStore`] and checks conformance; the sync must finish
/// within two minutes.
pub async fn check_sync(registry: &Registry) -> Result<CheckedSync, ConformanceError> {
    check_sync_within(registry, SYNC_TIMEOUT).await
}

/// [`check_sync`] with its own time bound. Every check can fail:
///
/// * **paging terminates:** the sync finishes within `timeout` (a listing that hands out new
///   tokens forever does not);
/// * **ids are unique:** every resource, entitlement and grant emitted is stored under its own
///   id (a listing that emits the same id twice fails);
/// * **the engine accepts the sync:** no repeated page token, no resource of an unregistered
///   type, every grant pointing at a synced entitlement and principal of a grantable type
///   (reported as [`ConformanceError::Sdk`] with the engine's error).
pub async fn check_sync_within(
    registry: &Registry,
    timeout: Duration,
) -> Result<CheckedSync, ConformanceError> {
    let store = Arc::new(MemoryStore::new());
    let config = SyncConfig::default()
        .with_workers(4)
        .with_integrity(IntegrityMode::Error)
        .with_resume(false);
    let engine = SyncEngine::new(registry.clone(), store.clone(), config);
    let report = tokio::time::timeout(timeout, engine.run(&CancellationToken::new()))
        .await
        .map_err(|_| {
            fail(
                "paging terminates",
                format!("the sync did not finish within {timeout:?}"),
            )
        })??;
    let run = report.run;
    let counts = &report.counts;
    for (what, emitted, stored) in [
        (
            "resource",
            report.progress.resources,
            counts.total_resources(),
        ),
        (
            "entitlement",
            report.progress.entitlements,
            counts.total_entitlements(),
        ),
        ("grant", report.progress.grants, counts.total_grants()),
    ] {
        if emitted != stored {
            return Err(fail(
                "ids are unique",
                format!("{emitted} {what}s emitted but {stored} distinct ids stored"),
            ));
        }
    }
    Ok(CheckedSync { report, store, run })
}

async fn holds(
    registry: &Registry,
    principal: &ResourceId,
    entitlement: &EntitlementId,
) -> Result<bool, ConformanceError> {
    let checked = check_sync(registry).await?;
    let grants = checked
        .store
        .grants_for_principal(checked.run, principal)
        .map_err(Error::from)?;
    Ok(grants.iter().any(|g| &g.entitlement == entitlement))
}

/// Checks that the fingerprint follows the configuration: `one` and `other` are the same
/// connector configured for two different tenants (two URLs, two files). If their fingerprints
/// are equal, an interrupted sync of one would be resumed by a sync of the other, and a store of
/// one would take the other's runs.
pub fn check_fingerprint(one: &Registry, other: &Registry) -> Result<(), ConformanceError> {
    let (a, b) = (one.fingerprint(), other.fingerprint());
    if a.matches(&b) {
        return Err(fail(
            "fingerprint follows the configuration",
            format!(
                "two configurations have the same fingerprint {:?}",
                a.encode()
            ),
        ));
    }
    Ok(())
}

/// Runs the provisioning round trip for `principal` and `entitlement`. The principal must not
/// hold the entitlement when called; it does not hold it afterwards either.
pub async fn check_provisioning(
    registry: &Registry,
    principal: &ResourceId,
    entitlement: &EntitlementId,
) -> Result<(), ConformanceError> {
    if holds(registry, principal, entitlement).await? {
        return Err(fail(
            "round trip precondition",
            format!("`{principal}` already holds `{entitlement}`; pick a pair without a grant"),
        ));
    }
    let outcome = registry
        .grant(crate::GrantRequest::new(
            principal.clone(),
            entitlement.clone(),
        ))
        .await?;
    if !outcome.is_granted() {
        return Err(fail("grant", format!("first grant returned {outcome:?}")));
    }
    if !holds(registry, principal, entitlement).await? {
        return Err(fail(
            "grant is synced",
            "the sync after the grant does not show it",
        ));
    }
    let outcome = registry
        .grant(crate::GrantRequest::new(
            principal.clone(),
            entitlement.clone(),
        ))
        .await?;
    if outcome != GrantOutcome::AlreadyGranted {
        return Err(fail(
            "grant is idempotent",
            format!("second grant returned {outcome:?}"),
        ));
    }
    let grant = Grant::new(entitlement.clone(), principal.clone());
    let outcome = registry
        .revoke(crate::RevokeRequest::new(grant.clone()))
        .await?;
    if outcome != RevokeOutcome::Revoked {
        return Err(fail("revoke", format!("first revoke returned {outcome:?}")));
    }
    if holds(registry, principal, entitlement).await? {
        return Err(fail(
            "revoke is synced",
            "the sync after the revoke still shows the grant",
        ));
    }
    let outcome = registry
        .revoke(crate::RevokeRequest::new(grant.clone()))
        .await?;
    if outcome != RevokeOutcome::AlreadyRevoked {
        return Err(fail(
            "revoke is idempotent",
            format!("second revoke returned {outcome:?}"),
        ));
    }
    Ok(())
}
