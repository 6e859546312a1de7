//! Shared simulator state and the request log.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use crate::options::{Fault, SimOptions};
use crate::tenant::Tenant;

/// One request the simulator answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoggedRequest {
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// The decoded query pairs.
    pub query: Vec<(String, String)>,
    /// The status answered.
    pub status: u16,
}

impl LoggedRequest {
    /// The value of the first query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `METHOD /path` with numeric path segments shown as `{id}`.
    pub fn endpoint(&self) -> String {
        let path: Vec<&str> = self
            .path
            .split('/')
            .map(|s| {
                if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                    "{id}"
                } else {
                    s
                }
            })
            .collect();
        format!("{} {}", self.method, path.join("/"))
    }
}

#[derive(Debug)]
pub(crate) struct IssuedToken {
    pub(crate) scopes: BTreeSet<String>,
    pub(crate) expires_at: Instant,
}

#[derive(Debug)]
pub(crate) struct ArmedFault {
    pub(crate) fault: Fault,
    pub(crate) seen: usize,
}

#[derive(Debug)]
pub(crate) struct Bucket {
    pub(crate) level: f64,
    pub(crate) at: Instant,
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) tenant: Tenant,
    /// Bumped on every tenant change; list caches are keyed by it.
    pub(crate) version: u64,
    pub(crate) options: SimOptions,
    pub(crate) tokens: HashMap<String, IssuedToken>,
    pub(crate) minted: u64,
    pub(crate) log: Vec<LoggedRequest>,
    pub(crate) faults: Vec<ArmedFault>,
    pub(crate) bucket: Bucket,
    /// Matching ids per (endpoint, filters) for the current version.
    pub(crate) list_cache: HashMap<String, (u64, Arc<Vec<i64>>)>,
}

impl State {
    pub(crate) fn new(tenant: Tenant, options: SimOptions) -> Self {
        Self {
            tenant,
            version: 0,
            options,
            tokens: HashMap::new(),
            minted: 0,
            log: Vec::new(),
            faults: Vec::new(),
            bucket: Bucket {
                level: 0.0,
                at: Instant::now(),
            },
            list_cache: HashMap::new(),
        }
    }

    /// Leaky bucket: `None` admits the request, `Some(wait)` refuses it.
    pub(crate) fn admit(&mut self, now: Instant) -> Option<f64> {
        let limit = self.options.rate_limit?;
        let drained = now.duration_since(self.bucket.at).as_secs_f64() * limit.per_second;
        self.bucket.level = (self.bucket.level - drained).max(0.0);
        self.bucket.at = now;
        if self.bucket.level + 1.0 > f64::from(limit.burst) {
            let wait = (self.bucket.level + 1.0 - f64::from(limit.burst)) / limit.per_second;
            return Some(wait);
        }
        self.bucket.level += 1.0;
        None
    }

    /// The armed fault the request triggers, if any (consumed).
    pub(crate) fn take_fault(&mut self, method: &str, path: &str) -> Option<Fault> {
        let mut fired = None;
        for armed in &mut self.faults {
            if armed.fault.matches(method, path) {
                armed.seen += 1;
                if armed.seen == armed.fault.nth && fired.is_none() {
                    fired = Some(armed.fault.clone());
                }
            }
        }
        self.faults.retain(|a| a.seen < a.fault.nth);
        fired
    }

    pub(crate) fn changed(&mut self) {
        self.version += 1;
        self.list_cache.clear();
    }
}
