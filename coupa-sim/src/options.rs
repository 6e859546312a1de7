//! Simulator switches: tokens, scopes, write semantics, load, faults.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::tenant::{APPROVAL_LIMIT_KEYS, AccessList};

/// The client id the simulator accepts.
pub const CLIENT_ID: &str = "sim-client";
/// The client secret the simulator accepts.
pub const CLIENT_SECRET: &str = "sim-secret";

/// Every scope a simulated OAuth client can be granted.
pub const ALL_SCOPES: &[&str] = &[
    "core.accounting.read",
    "core.business_entity.read",
    "core.common.read",
    "core.user.read",
    "core.user.write",
    "core.user_group.read",
    "core.user_group.write",
    "email",
    "login",
    "openid",
    "profile",
];

/// How `PUT /api/users/{id}` treats an access list it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListWrite {
    /// The list sent replaces the user's list.
    Replace,
    /// Ids sent are added; only `[]` clears the list (the documented behaviour for roles).
    AdditiveUnlessEmpty,
}

/// What a write naming an id that does not exist does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnknownIds {
    /// The id is dropped silently; the call succeeds (documented Coupa behaviour).
    Ignore,
    /// The call fails with 404 and changes nothing.
    NotFound,
}

/// What the token endpoint does with a requested scope the client is not granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UngrantedScope {
    /// Leave it out of the token (and of the response's `scope`); calls needing it get 403.
    Drop,
    /// Refuse the token request with 400 `invalid_scope`.
    Reject,
}

/// Coupa's leaky-bucket rate limit.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Requests per second the bucket drains.
    pub per_second: f64,
    /// Requests the bucket holds.
    pub burst: u32,
    /// Whether a 429 carries `Retry-After` (whole seconds).
    pub retry_after: bool,
}

impl RateLimit {
    /// A bucket draining `per_second` that holds `burst` requests; 429s carry `Retry-After`.
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self {
            per_second,
            burst,
            retry_after: true,
        }
    }

    /// Sets whether a 429 carries `Retry-After`.
    pub fn with_retry_after(mut self, on: bool) -> Self {
        self.retry_after = on;
        self
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: 25.0,
            burst: 20,
            retry_after: true,
        }
    }
}

/// The simulator's switches. Change them on a running simulator with
/// [`crate::CoupaSim::set_options`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SimOptions {
    /// `expires_in` of minted tokens.
    pub token_lifetime: Duration,
    /// Scopes the OAuth client is granted.
    pub granted_scopes: BTreeSet<String>,
    /// What happens to requested scopes outside `granted_scopes`.
    pub ungranted_scope: UngrantedScope,
    /// Latency added to every response.
    pub latency: Duration,
    /// The leaky bucket, off by default.
    pub rate_limit: Option<RateLimit>,
    /// Write semantics per access list.
    pub list_writes: BTreeMap<AccessList, ListWrite>,
    /// What unknown ids in writes do.
    pub unknown_ids: UnknownIds,
    /// Whether `GET /api/roles` exists (some tenants reportedly lack it).
    pub serve_roles: bool,
    /// Keys left out of unprojected responses, as Coupa does with fields added in newer
    /// releases: they appear only when named in `fields` or a filter.
    pub hidden_unless_projected: BTreeSet<String>,
    /// Keys left out of every user record, projected or not, in reads and in write answers: a
    /// tenant whose records lack a key (a list the token may not see, a key a release dropped).
    pub omitted_user_keys: BTreeSet<String>,
    /// Keys sent as `null` in every user record, projected or not, in reads and in write answers.
    pub null_user_keys: BTreeSet<String>,
    /// Whether list filters (`login=`, `email=`, …) are ignored, as by a proxy or a tenant that
    /// does not know the attribute: every row is listed. Paging (`limit`, `offset`, `id[gt]`)
    /// still applies.
    pub ignore_filters: bool,
    /// Whether `fields=` shapes the answer of `PUT`/`POST` (on by default). Off: the answer is
    /// the unprojected record, as from a tenant that honours only `return_object` on writes
    /// (unconfirmed which tenants do).
    pub project_write_answers: bool,
    /// Keys a `fields=` projection may not name: such a request is answered 400, as by a
    /// release that does not know them.
    pub rejected_fields: BTreeSet<String>,
}

/// License flags added in recent Coupa releases: a real tenant sends them only when they are
/// named in `fields` (see [`SimOptions::with_newer_licenses_hidden`]).
pub const NEWER_LICENSE_KEYS: &[&str] = &["intake-user", "coupa-navi-ai-agent-user"];

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            token_lifetime: Duration::from_secs(86_399),
            granted_scopes: ALL_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            ungranted_scope: UngrantedScope::Drop,
            latency: Duration::ZERO,
            rate_limit: None,
            list_writes: [
                (AccessList::Roles, ListWrite::AdditiveUnlessEmpty),
                (AccessList::UserGroups, ListWrite::Replace),
                (AccessList::AccountGroups, ListWrite::Replace),
                (AccessList::ContentGroups, ListWrite::Replace),
                (AccessList::ApprovalGroups, ListWrite::Replace),
            ]
            .into(),
            unknown_ids: UnknownIds::Ignore,
            serve_roles: true,
            hidden_unless_projected: BTreeSet::new(),
            omitted_user_keys: BTreeSet::new(),
            null_user_keys: BTreeSet::new(),
            ignore_filters: false,
            project_write_answers: true,
            rejected_fields: BTreeSet::new(),
        }
    }
}

impl SimOptions {
    /// Sets the token lifetime.
    pub fn with_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Takes a scope away from the OAuth client.
    pub fn without_scope(mut self, scope: &str) -> Self {
        self.granted_scopes.remove(scope);
        self
    }

    /// Sets what happens to requested scopes the client lacks.
    pub fn with_ungranted_scope(mut self, mode: UngrantedScope) -> Self {
        self.ungranted_scope = mode;
        self
    }

    /// Sets the latency of every response.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Turns the leaky bucket on or off.
    pub fn with_rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        self.rate_limit = limit;
        self
    }

    /// Sets the write semantics of one access list.
    pub fn with_list_write(mut self, list: AccessList, mode: ListWrite) -> Self {
        self.list_writes.insert(list, mode);
        self
    }

    /// Sets what unknown ids in writes do.
    pub fn with_unknown_ids(mut self, mode: UnknownIds) -> Self {
        self.unknown_ids = mode;
        self
    }

    /// Serves `GET /api/roles` or answers it with 404.
    pub fn with_roles_endpoint(mut self, serve: bool) -> Self {
        self.serve_roles = serve;
        self
    }

    /// Hides a key from unprojected responses (reads and write answers alike).
    pub fn with_hidden_unless_projected(mut self, key: &str) -> Self {
        self.hidden_unless_projected.insert(key.to_owned());
        self
    }

    /// Hides the [`NEWER_LICENSE_KEYS`] from unprojected responses, as Coupa does.
    pub fn with_newer_licenses_hidden(self) -> Self {
        NEWER_LICENSE_KEYS.iter().fold(self, |options, key| {
            options.with_hidden_unless_projected(key)
        })
    }

    /// Whether `fields=` shapes the answer of writes.
    pub fn with_projected_write_answers(mut self, on: bool) -> Self {
        self.project_write_answers = on;
        self
    }

    /// Leaves `key` out of every user record, even when projected.
    pub fn with_user_key_omitted(mut self, key: &str) -> Self {
        self.omitted_user_keys.insert(key.to_owned());
        self
    }

    /// Sends `key` as `null` in every user record, even when projected.
    pub fn with_user_key_null(mut self, key: &str) -> Self {
        self.null_user_keys.insert(key.to_owned());
        self
    }

    /// A tenant of a release without approval authority on users: `approval-groups` and the
    /// eight approval limits are left out of every user record.
    pub fn with_approval_authority_absent(self) -> Self {
        std::iter::once("approval-groups")
            .chain(APPROVAL_LIMIT_KEYS)
            .fold(self, |options, key| options.with_user_key_omitted(key))
    }

    /// As [`with_approval_authority_absent`](Self::with_approval_authority_absent), and a
    /// `fields=` naming any of those keys is answered 400.
    pub fn with_approval_fields_rejected(self) -> Self {
        let mut options = self.with_approval_authority_absent();
        options.rejected_fields.extend(
            std::iter::once("approval-groups")
                .chain(APPROVAL_LIMIT_KEYS)
                .map(str::to_owned),
        );
        options
    }

    /// Ignores list filters other than paging: every row is listed.
    pub fn with_filters_ignored(mut self, on: bool) -> Self {
        self.ignore_filters = on;
        self
    }
}

/// What an injected fault does to the response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// An error status with a small JSON body.
    Status(u16),
    /// Status 200 with a body that is not JSON.
    InvalidJson,
    /// Status 200 with the real body cut in half.
    TruncatedJson,
    /// The connection closes before the response body is complete.
    DropConnection,
    /// The real response after this extra delay.
    Delay(Duration),
}

/// A one-shot fault: the `nth` request (1-based) matching `method` and `path` gets `kind`.
/// `path` matches exactly, or as a prefix when it ends with `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fault {
    /// The method to match, any when `None`.
    pub method: Option<String>,
    /// The path to match.
    pub path: String,
    /// Which matching request, 1-based.
    pub nth: usize,
    /// What happens.
    pub kind: FaultKind,
}

impl Fault {
    /// The `nth` request with `method` to `path` gets `kind`.
    pub fn nth(method: &str, path: &str, nth: usize, kind: FaultKind) -> Self {
        Self {
            method: Some(method.to_owned()),
            path: path.to_owned(),
            nth,
            kind,
        }
    }

    /// The `nth` request of any method to `path` gets `kind`.
    pub fn any_method(path: &str, nth: usize, kind: FaultKind) -> Self {
        Self {
            method: None,
            path: path.to_owned(),
            nth,
            kind,
        }
    }

    pub(crate) fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && match self.path.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => path == self.path,
            }
    }
}
