//! Finishing interrupted writes: which open intents a process may repair, the request a
//! provisioner gets, and what a repair reports.

use std::time::Duration;

use super::{OpenIntent, WriteJournal};
use crate::audit::Audit;
use crate::capability::CallContext;
use crate::error::{ConnectorError, Error, ErrorKind};
use crate::model::ResourceId;
use crate::registry::Registry;

/// An intent recorded by a process on another host is taken as abandoned this long after it
/// began (on this host, a dead process is seen at once). No write of ours takes this long.
pub(crate) const ABANDONED_AFTER: Duration = Duration::from_secs(600);

/// Finish an interrupted write: [`Provisioner::repair`](crate::Provisioner::repair)'s argument.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RepairRequest {
    /// The open intent.
    pub intent: OpenIntent,
    /// Per-call state (the journal, for a repair that itself takes several requests).
    pub context: CallContext,
}

/// What a repair did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Repaired {
    /// What the repair wrote back: items the interrupted write had taken away, or the one it
    /// was granting. Empty when the state was already right.
    pub restored: Vec<ResourceId>,
    /// What the attribute holds now, as the repair's verifying read shows it.
    pub now: Vec<ResourceId>,
}

impl Repaired {
    /// A repair that wrote `restored` back and verified `now`.
    pub fn new(restored: Vec<ResourceId>, now: Vec<ResourceId>) -> Self {
        Self { restored, now }
    }
}

/// An open intent a repair did not touch, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeftAlone {
    /// The intent.
    pub intent: OpenIntent,
    /// Why it was left: another tenant, or a process that may still be running it.
    pub reason: String,
}

/// An open intent whose repair failed; it stays open.
#[derive(Debug)]
#[non_exhaustive]
pub struct Unrepaired {
    /// The intent.
    pub intent: OpenIntent,
    /// Why.
    pub error: ConnectorError,
}

/// What [`Registry::repair`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct RepairReport {
    /// Intents finished, with what each restored.
    pub repaired: Vec<(OpenIntent, Repaired)>,
    /// Intents left open on purpose.
    pub left_alone: Vec<LeftAlone>,
    /// Intents whose repair failed.
    pub failed: Vec<Unrepaired>,
}

impl RepairReport {
    /// Whether every open intent this registration may repair was repaired.
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty()
    }
}

/// The line an audit trail records for a repair.
pub(crate) fn describe(intent: &OpenIntent, repaired: &Repaired) -> String {
    let restored = if repaired.restored.is_empty() {
        "nothing to restore".to_owned()
    } else {
        let items: Vec<String> = repaired.restored.iter().map(ToString::to_string).collect();
        format!("restored {}", items.join(", "))
    };
    format!(
        "repaired after an interrupted {}, {restored}",
        intent.intent
    )
}

/// What this process may do with an open intent.
enum Verdict {
    Repair,
    /// This process has the write under way: not interrupted at all.
    RunningHere,
    /// Left open, for this reason.
    Leave(String),
}

fn verdict(journal: &WriteJournal, open: &OpenIntent) -> Verdict {
    let intent = &open.intent;
    if !journal.fingerprint().matches_stored(&intent.fingerprint) {
        return Verdict::Leave(format!(
            "it was recorded for another tenant ({:?}, configured: {:?})",
            intent.fingerprint,
            journal.fingerprint().encode()
        ));
    }
    if intent.holder.is_this_process() {
        return match WriteJournal::is_running_here(open) {
            true => Verdict::RunningHere,
            false => Verdict::Repair,
        };
    }
    let age = Duration::from_millis(
        u64::try_from(crate::store::now_ms().saturating_sub(intent.started_at_ms)).unwrap_or(0),
    );
    if intent.holder.may_be_alive() && age < ABANDONED_AFTER {
        return Verdict::Leave(format!(
            "{} may still be running it (recorded {} s ago; taken over {} s after it began)",
            intent.holder,
            age.as_secs(),
            ABANDONED_AFTER.as_secs()
        ));
    }
    Verdict::Repair
}

impl Registry {
    /// Finishes every interrupted write of this connector recorded in the attached journal:
    /// each open intent is handed to its provisioner's
    /// [`repair`](crate::Provisioner::repair), marked done and recorded as one audit event. An
    /// intent of another tenant, or of a process that may still be running it, is left alone
    /// and reported. Without a journal there is nothing to repair. A host calls this when it
    /// starts, before any write; grants and revokes also repair their principal's intents
    /// first.
    pub async fn repair(&self) -> Result<RepairReport, Error> {
        let report = self.repair_where(|_| true).await?;
        if !report.repaired.is_empty() || !report.failed.is_empty() {
            tracing::info!(
                repaired = report.repaired.len(),
                failed = report.failed.len(),
                left_alone = report.left_alone.len(),
                "interrupted writes repaired"
            );
        }
        Ok(report)
    }

    /// Repairs the open intents of `principal`; an error when one cannot be repaired now, so
    /// no write acts on a list an interrupted write left behind.
    pub(crate) async fn repair_principal(&self, principal: &ResourceId) -> Result<(), Error> {
        let report = self
            .repair_where(|i| &i.draft.principal == principal)
            .await?;
        let operation = format!("repair of an interrupted write to {principal}");
        if let Some(failed) = report.failed.into_iter().next() {
            return Err(Error::Operation {
                operation,
                source: failed.error,
            });
        }
        let blocking = report.left_alone.iter().find(|l| {
            self.fingerprint()
                .matches_stored(&l.intent.intent.fingerprint)
        });
        if let Some(left) = blocking {
            return Err(Error::Operation {
                operation,
                source: ConnectorError::new(
                    ErrorKind::Transient,
                    format!(
                        "the interrupted {} is not finished: {}; nothing was written",
                        left.intent.intent, left.reason
                    ),
                ),
            });
        }
        Ok(())
    }

    async fn repair_where(
        &self,
        wanted: impl Fn(&super::Intent) -> bool,
    ) -> Result<RepairReport, Error> {
        let mut report = RepairReport::default();
        let Some(journal) = self.journal() else {
            return Ok(report);
        };
        for open in journal.open().await? {
            if !wanted(&open.intent) {
                continue;
            }
            match verdict(journal, &open) {
                Verdict::Repair => {}
                Verdict::RunningHere => continue,
                Verdict::Leave(reason) => {
                    tracing::warn!(intent = open.id.raw(), %reason,
                        "an interrupted {} was left alone", open.intent);
                    report.left_alone.push(LeftAlone {
                        intent: open,
                        reason,
                    });
                    continue;
                }
            }
            match self.repair_one(journal, &open).await {
                Ok(repaired) => report.repaired.push((open, repaired)),
                Err(error) => {
                    tracing::error!(intent = open.id.raw(), error = %crate::error_chain(&error),
                        "repairing an interrupted {} failed; it stays recorded", open.intent);
                    report.failed.push(Unrepaired {
                        intent: open,
                        error,
                    });
                }
            }
        }
        Ok(report)
    }

    async fn repair_one(
        &self,
        journal: &WriteJournal,
        open: &OpenIntent,
    ) -> Result<Repaired, ConnectorError> {
        let draft = &open.intent.draft;
        let provisioner = self
            .provisioner(&draft.entitlement.resource.resource_type)
            .map_err(|e| ConnectorError::fatal(e.to_string()))?;
        let mut context = CallContext::default().with_journal(journal.clone());
        if let Some(actor) = &open.intent.actor {
            context = context.with_actor(actor.clone());
        }
        let repaired = provisioner
            .repair(RepairRequest {
                intent: open.clone(),
                context,
            })
            .await?;
        let line = describe(open, &repaired);
        journal.close(open.id, line.clone()).await.map_err(|e| {
            ConnectorError::fatal_with("the repaired intent could not be marked done", e)
        })?;
        Audit::new("journal", "repair")
            .with_actor(
                open.intent
                    .actor
                    .clone()
                    .unwrap_or_else(|| "unknown".into()),
            )
            .with_entitlement(&draft.entitlement)
            .with_principal(&draft.principal)
            .with_detail(line)
            .succeeded("repaired", !repaired.restored.is_empty());
        Ok(repaired)
    }
}
