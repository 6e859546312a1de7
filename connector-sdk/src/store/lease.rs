//! Who may work on a run, and whether an unfinished run may be resumed: the rules both stores
//! apply, inside their own transaction, when a sync begins.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{NewWork, RunId};
use crate::model::ResourceType;

/// The engine holding a run: a process on a host. Recorded in the store with a heartbeat, so a
/// second engine on the same store can tell a live sync from a dead one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Holder {
    /// Unique per engine run: host, process id and start time.
    pub id: String,
    /// The process id.
    pub pid: u32,
    /// The host name.
    pub host: String,
    /// What tells this process from a later one with the same pid on the same host (a
    /// container restarted keeps its hostname and often gets pid 1 again): the kernel's boot id
    /// and the process's start time, where the OS tells them (Linux); `None` elsewhere, and in
    /// holders recorded before it existed.
    #[serde(default)]
    pub process: Option<String>,
}

impl Holder {
    /// A holder with these parts (for a store driven directly, and tests).
    pub fn new(id: impl Into<String>, pid: u32, host: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            pid,
            host: host.into(),
            process: None,
        }
    }

    /// This process, with an id no other engine run shares.
    pub fn current() -> Self {
        let pid = std::process::id();
        let host = host_name();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self {
            id: format!("{host}:{pid}:{nanos}:{serial}"),
            pid,
            host,
            process: process_identity("self"),
        }
    }

    /// Whether the holder is this very process (another engine or journal of it).
    pub(crate) fn is_this_process(&self) -> bool {
        self.host == host_name()
            && self.pid == std::process::id()
            && match (&self.process, process_identity("self")) {
                (Some(recorded), Some(now)) => *recorded == now,
                _ => true,
            }
    }

    /// Whether the holder may still be running: `false` only when it is on this host and its
    /// process is gone, or its pid now belongs to another process (Linux: another start time or
    /// boot); elsewhere it counts as alive (a store waits for its heartbeat to go stale).
    pub fn may_be_alive(&self) -> bool {
        if self.host != host_name() {
            return true;
        }
        #[cfg(target_os = "linux")]
        {
            match (&self.process, process_identity(&self.pid.to_string())) {
                (_, None) => false,
                (Some(recorded), Some(now)) => *recorded == now,
                (None, Some(_)) => true,
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            true
        }
    }
}

/// `boot-id/start-time` of process `pid` (`self` for this one), or `None` when it does not
/// exist or the OS does not say.
fn process_identity(pid: &str) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields count from after its `)`.
    // The start time is field 22, the 20th after the name.
    let started = stat.rsplit_once(')')?.1.split_whitespace().nth(19)?;
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    Some(format!("{}/{started}", boot.trim()))
}

static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "process {} on {}", self.pid, self.host)
    }
}

fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// How a sync asks to begin: resume the connector's unfinished run when it may, else start one.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BeginRun<'a> {
    /// The connector id.
    pub connector: &'a str,
    /// What determines the run's output (connector, tenant, settings). An unfinished run whose
    /// fingerprint does not [match](crate::Fingerprint::matches) is never resumed.
    pub fingerprint: &'a crate::Fingerprint,
    /// Who asks.
    pub holder: &'a Holder,
    /// Whether an unfinished run may be resumed at all.
    pub resume: bool,
    /// An unfinished run started longer ago than this is not resumed.
    pub max_resume_age: Duration,
    /// A holder whose heartbeat is older than this is taken to have stopped.
    pub lease_ttl: Duration,
    /// The resource types of a new run.
    pub resource_types: &'a [ResourceType],
    /// The first work items of a new run.
    pub work: &'a [NewWork],
}

impl<'a> BeginRun<'a> {
    /// A request to begin a run of `connector` with `fingerprint` for `holder`: resume allowed
    /// (up to 7 days old), leases stale after 60 s, no resource types or work.
    pub fn new(
        connector: &'a str,
        fingerprint: &'a crate::Fingerprint,
        holder: &'a Holder,
    ) -> Self {
        Self {
            connector,
            fingerprint,
            holder,
            resume: true,
            max_resume_age: Duration::from_secs(7 * 24 * 3600),
            lease_ttl: Duration::from_secs(60),
            resource_types: &[],
            work: &[],
        }
    }

    /// Sets the resource types and first work items of a new run.
    pub fn with_work(mut self, resource_types: &'a [ResourceType], work: &'a [NewWork]) -> Self {
        self.resource_types = resource_types;
        self.work = work;
        self
    }

    /// Sets whether an unfinished run may be resumed.
    pub fn with_resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// Sets the age past which an unfinished run is not resumed.
    pub fn with_max_resume_age(mut self, age: Duration) -> Self {
        self.max_resume_age = age;
        self
    }

    /// Sets how old a heartbeat may be before its holder is taken to have stopped.
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }
}

/// How a run began.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Begun {
    /// The run, now held by the caller.
    pub run: RunId,
    /// Whether it is an unfinished run resumed.
    pub resumed: bool,
    /// Why an unfinished run was not resumed (it is marked failed), when there was one.
    pub not_resumed: Option<String>,
}

/// An unfinished run as a store sees it when a sync begins.
#[derive(Debug, Clone)]
pub(crate) struct OpenRun {
    pub(crate) id: RunId,
    pub(crate) fingerprint: String,
    pub(crate) started_at_ms: i64,
    pub(crate) holder: Option<Holder>,
    pub(crate) heartbeat_ms: Option<i64>,
}

/// What a store does when a sync begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Take over `run` and resume it; mark the runs in `fail` failed with their reasons.
    Resume {
        run: RunId,
        fail: Vec<(RunId, String)>,
    },
    /// Start a new run; mark the runs in `fail` failed. `not_resumed` says why the latest
    /// unfinished run was not resumed.
    Start {
        fail: Vec<(RunId, String)>,
        not_resumed: Option<String>,
    },
    /// Another live engine holds `run`.
    InProgress {
        run: RunId,
        holder: Holder,
        heartbeat_ms: i64,
    },
}

/// Whether the stored fingerprint `stored` is of `tenant`: it names that tenant, or none (a
/// fingerprint without a `tenant` part belongs to every tenant's scope).
pub(crate) fn of_tenant(stored: &str, tenant: &str) -> bool {
    crate::Fingerprint::decode(stored)
        .ok()
        .and_then(|f| f.get("tenant").map(|t| t == tenant))
        .unwrap_or(true)
}

/// The unfinished runs a beginning sync decides about: all of them in a one-tenant store, those
/// of its own tenant in a store of many.
#[cfg(feature = "postgres")]
pub(crate) fn in_scope(
    open: Vec<OpenRun>,
    begin: &BeginRun<'_>,
    many_tenants: bool,
) -> Vec<OpenRun> {
    match begin.fingerprint.get("tenant") {
        Some(tenant) if many_tenants => open
            .into_iter()
            .filter(|o| of_tenant(&o.fingerprint, tenant))
            .collect(),
        _ => open,
    }
}

/// Whether `open`'s holder (if any) still holds it at `now_ms`.
fn held(open: &OpenRun, begin: &BeginRun<'_>, now_ms: i64) -> Option<(Holder, i64)> {
    let holder = open.holder.as_ref()?;
    let heartbeat = open.heartbeat_ms?;
    let ttl = i64::try_from(begin.lease_ttl.as_millis()).unwrap_or(i64::MAX);
    let fresh = now_ms.saturating_sub(heartbeat) <= ttl;
    (holder.id != begin.holder.id && fresh && holder.may_be_alive())
        .then(|| (holder.clone(), heartbeat))
}

/// Decides, from the connector's unfinished runs (oldest first), what a beginning sync does.
pub(crate) fn decide(open: &[OpenRun], begin: &BeginRun<'_>, now_ms: i64) -> Decision {
    if let Some((run, (holder, heartbeat_ms))) = open
        .iter()
        .find_map(|o| held(o, begin, now_ms).map(|h| (o.id, h)))
    {
        return Decision::InProgress {
            run,
            holder,
            heartbeat_ms,
        };
    }
    let Some((latest, older)) = open.split_last() else {
        return Decision::Start {
            fail: Vec::new(),
            not_resumed: None,
        };
    };
    let mut fail: Vec<(RunId, String)> = older
        .iter()
        .map(|o| (o.id, format!("superseded by run {}", latest.id)))
        .collect();
    let max_age = i64::try_from(begin.max_resume_age.as_millis()).unwrap_or(i64::MAX);
    let reason = if !begin.resume {
        Some("a fresh run was asked for".to_owned())
    } else if !begin.fingerprint.matches_stored(&latest.fingerprint) {
        Some(format!(
            "it synced something else (fingerprint {:?}, now {:?})",
            latest.fingerprint,
            begin.fingerprint.encode()
        ))
    } else if now_ms.saturating_sub(latest.started_at_ms) > max_age {
        Some(format!(
            "it started more than {} s ago",
            begin.max_resume_age.as_secs()
        ))
    } else {
        None
    };
    match reason {
        None => Decision::Resume {
            run: latest.id,
            fail,
        },
        Some(reason) => {
            let reason = format!("run {} was not resumed: {reason}", latest.id);
            fail.push((latest.id, reason.clone()));
            Decision::Start {
                fail,
                not_resumed: Some(reason),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(id: i64, fingerprint: &str, holder: Option<(&Holder, i64)>) -> OpenRun {
        OpenRun {
            id: RunId(id),
            fingerprint: fingerprint.into(),
            started_at_ms: 1_000_000,
            holder: holder.map(|(h, _)| h.clone()),
            heartbeat_ms: holder.map(|(_, hb)| hb),
        }
    }

    #[test]
    fn decisions() {
        let me = Holder::current();
        let other_live = Holder::new("elsewhere:1:1", 1, "elsewhere");
        let now = 2_000_000;
        // Stored as "fp", as before fingerprints had names: it matches `tenant=fp`.
        let fp = crate::Fingerprint::new("tenant", "fp");
        let begin = BeginRun::new("c", &fp, &me).with_lease_ttl(Duration::from_secs(60));
        let resume = |run| Decision::Resume {
            run: RunId(run),
            fail: vec![],
        };
        assert_eq!(
            decide(&[], &begin, now),
            Decision::Start {
                fail: vec![],
                not_resumed: None
            }
        );
        assert_eq!(decide(&[open(3, "fp", None)], &begin, now), resume(3));
        assert_eq!(
            decide(&[open(2, "fp", None), open(3, "fp", None)], &begin, now),
            Decision::Resume {
                run: RunId(3),
                fail: vec![(RunId(2), "superseded by run 3".into())]
            }
        );
        // Held by a live engine elsewhere with a fresh heartbeat.
        assert_eq!(
            decide(
                &[open(3, "fp", Some((&other_live, now - 10_000)))],
                &begin,
                now
            ),
            Decision::InProgress {
                run: RunId(3),
                holder: other_live.clone(),
                heartbeat_ms: now - 10_000
            }
        );
        // A stale heartbeat is taken over.
        assert_eq!(
            decide(
                &[open(3, "fp", Some((&other_live, now - 61_000)))],
                &begin,
                now
            ),
            resume(3)
        );
        // A dead process on this host is taken over at once.
        let dead = Holder::new("dead", u32::MAX, me.host.clone());
        assert_eq!(
            decide(&[open(3, "fp", Some((&dead, now)))], &begin, now),
            resume(3)
        );
        // Another fingerprint, too old, or fresh asked for: a new run, the old one failed.
        let Decision::Start { fail, not_resumed } = decide(&[open(3, "other", None)], &begin, now)
        else {
            panic!()
        };
        assert_eq!(fail[0].0, RunId(3));
        assert_eq!(
            not_resumed.as_deref(),
            Some(
                r#"run 3 was not resumed: it synced something else (fingerprint "other", now "tenant=fp")"#
            )
        );
        let old = BeginRun::new("c", &fp, &me).with_max_resume_age(Duration::from_secs(500));
        let Decision::Start { not_resumed, .. } = decide(&[open(3, "fp", None)], &old, now) else {
            panic!()
        };
        assert_eq!(
            not_resumed.as_deref(),
            Some("run 3 was not resumed: it started more than 500 s ago")
        );
        let fresh = BeginRun::new("c", &fp, &me).with_resume(false);
        let Decision::Start { not_resumed, .. } = decide(&[open(3, "fp", None)], &fresh, now)
        else {
            panic!()
        };
        assert_eq!(
            not_resumed.as_deref(),
            Some("run 3 was not resumed: a fresh run was asked for")
        );
        // Fresh never tramples a live holder.
        assert!(matches!(
            decide(&[open(3, "fp", Some((&other_live, now)))], &fresh, now),
            Decision::InProgress { .. }
        ));
    }
}
