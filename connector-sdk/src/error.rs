//! Errors: [`ConnectorError`] is what connectors return; [`Error`] is what the SDK returns to hosts.

use std::time::Duration;

use crate::capability::ArgumentError;
use crate::model::Stage;
use crate::model::{ResourceId, ResourceTypeId};
use crate::store::{Holder, IntegrityIssue, RunId, StoreError};

/// A boxed error source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of failure a [`ConnectorError`] is, which says who retries it: the engine waits
/// and retries [`ErrorKind::RateLimited`], retries [`ErrorKind::Transient`] with backoff, and
/// stops on every other kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The upstream service asked us to slow down: the engine waits
    /// ([`ConnectorError::retry_after`], or its own backoff) and retries the same call.
    RateLimited,
    /// A failure that may pass (a timeout, a 5xx, a dropped connection) that the connector did
    /// not retry itself: the engine retries it with backoff.
    Transient,
    /// The upstream service kept failing through the connector's own retries (or asked for a
    /// wait past its cap): not retried again; a sync stops and stays resumable.
    RetriedByConnector,
    /// The credentials were rejected.
    Unauthenticated,
    /// The credentials lack a permission (for example an OAuth scope).
    PermissionDenied,
    /// The object does not exist upstream.
    NotFound,
    /// The request was refused as invalid: a bad argument, a validation error upstream.
    InvalidArgument,
    /// The change conflicts with what the upstream service holds (an account's email that
    /// belongs to another account): not retried, since retrying cannot change the answer.
    Conflict,
    /// Any other failure; not retried.
    Fatal,
    /// The connector has no such capability or action (the SDK's kind: a connector's own
    /// calls do not fail with it).
    Unsupported,
    /// Another engine holds the run, or took it over (the SDK's kind).
    Busy,
    /// The store (or file) holds another tenant's syncs (the SDK's kind).
    OtherTenant,
    /// The work was cancelled and can be resumed (the SDK's kind).
    Cancelled,
    /// The SDK itself failed: its store, a task that ended abnormally, a paging or integrity
    /// fault (the SDK's kind).
    Internal,
}

impl ErrorKind {
    /// Whether the engine retries a call that failed with this kind.
    pub fn retried_by_engine(self) -> bool {
        matches!(self, Self::RateLimited | Self::Transient)
    }

    /// The HTTP status a service answers an operation that failed with this kind: the one
    /// place kinds map to statuses.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidArgument => 422,
            Self::Conflict | Self::Busy | Self::OtherTenant => 409,
            Self::NotFound | Self::Unsupported => 404,
            Self::RateLimited => 429,
            Self::Transient | Self::RetriedByConnector | Self::Cancelled => 503,
            Self::Unauthenticated | Self::PermissionDenied | Self::Fatal => 502,
            Self::Internal => 500,
        }
    }

    /// The exit code a command-line program ends with when an operation failed with this kind:
    /// 2 for a request refused as invalid (as for a usage error), 1 for every other failure.
    /// With [`ErrorKind::http_status`] and [`Error::exit_code`], the one place kinds map to
    /// codes.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::InvalidArgument | Self::Unsupported => 2,
            _ => 1,
        }
    }

    /// A stable, machine-readable name, such as `rate_limited`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RateLimited => "rate_limited",
            Self::Transient => "transient",
            Self::RetriedByConnector => "retried_by_connector",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied => "permission_denied",
            Self::NotFound => "not_found",
            Self::InvalidArgument => "invalid_argument",
            Self::Conflict => "conflict",
            Self::Fatal => "fatal",
            Self::Unsupported => "unsupported",
            Self::Busy => "busy",
            Self::OtherTenant => "other_tenant",
            Self::Cancelled => "cancelled",
            Self::Internal => "internal",
        }
    }

    /// The words a message of this kind starts with.
    fn prefix(self) -> &'static str {
        match self {
            Self::RateLimited => "rate limited by the upstream service",
            Self::Transient => "transient failure",
            Self::RetriedByConnector => "upstream unavailable",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied => "permission denied",
            Self::NotFound => "not found",
            Self::InvalidArgument => "invalid argument",
            Self::Conflict => "conflict",
            Self::Unsupported => "unsupported",
            Self::Busy => "busy",
            Self::OtherTenant => "another tenant",
            Self::Cancelled => "cancelled",
            Self::Internal => "internal error",
            Self::Fatal => "",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error a connector reports from a capability call: a [`kind`](ConnectorError::kind) that
/// tells the engine what to do, a message that says only what it adds, and an optional typed
/// source (a host recovers it with `downcast_ref`).
#[derive(Debug)]
pub struct ConnectorError {
    kind: ErrorKind,
    message: String,
    source: Option<BoxError>,
    retry_after: Option<Duration>,
}

impl std::fmt::Display for ConnectorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.kind.prefix(), self.message.as_str()) {
            (prefix, "") => f.write_str(prefix),
            ("", message) => f.write_str(message),
            (prefix, message) => write!(f, "{prefix}: {message}"),
        }
    }
}

impl std::error::Error for ConnectorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl ConnectorError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
            retry_after: None,
        }
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What failed, without the kind's words or the source's text.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// How long the upstream service asked us to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The upstream service asked us to slow down, for `retry_after` when it said.
    pub fn rate_limited(retry_after: Option<Duration>) -> Self {
        Self {
            retry_after,
            ..Self::new(ErrorKind::RateLimited, "")
        }
    }

    /// A transient error with a message and a source: the engine retries it.
    pub fn transient(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::new(ErrorKind::Transient, message).with_source(source)
    }

    /// The credentials were rejected.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, message)
    }

    /// The credentials lack a permission.
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PermissionDenied, message)
    }

    /// The object does not exist upstream.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// The request was refused as invalid.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    /// The change conflicts with what the upstream service holds.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// An upstream failure that outlasted the connector's own retries.
    pub fn retried_by_connector(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::new(ErrorKind::RetriedByConnector, message).with_source(source)
    }

    /// A fatal error with a message and no source.
    pub fn fatal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Fatal, message)
    }

    /// A fatal error with a message and a source.
    pub fn fatal_with(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::new(ErrorKind::Fatal, message).with_source(source)
    }

    /// The same error with `cause` as its source (a host recovers it with `downcast_ref`).
    pub fn with_source(mut self, cause: impl Into<BoxError>) -> Self {
        self.source = Some(cause.into());
        self
    }

    /// The same error with a wait the upstream service asked for.
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }
}

impl From<ArgumentError> for ConnectorError {
    /// Arguments the connector refused, with the argument error as the source.
    fn from(error: ArgumentError) -> Self {
        Self::invalid_argument("the arguments were refused").with_source(error)
    }
}

/// Where in a sync something happened: the stage, the syncer's resource type and the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncContext {
    /// The stage.
    pub stage: Stage,
    /// The resource type whose syncer was called.
    pub resource_type: ResourceTypeId,
    /// The resource being listed (the parent for a child listing), if any.
    pub resource: Option<ResourceId>,
}

impl std::fmt::Display for SyncContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} stage, resource type `{}`",
            self.stage, self.resource_type
        )?;
        if let Some(resource) = &self.resource {
            write!(f, ", resource `{resource}`")?;
        }
        Ok(())
    }
}

/// An error the SDK returns to a host.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A connector call failed with an error that is not retried.
    #[error("sync failed in the {context}")]
    Connector {
        /// Where.
        context: Box<SyncContext>,
        /// The connector's error.
        #[source]
        source: ConnectorError,
    },
    /// A connector call kept failing until the retry policy gave up.
    #[error("sync gave up after {attempts} attempts in the {context}")]
    RetriesExhausted {
        /// Where.
        context: Box<SyncContext>,
        /// How many calls were made.
        attempts: u32,
        /// The last error.
        #[source]
        source: ConnectorError,
    },
    /// A syncer returned a page token it had already returned for the same listing: a paging bug
    /// that would otherwise loop forever.
    #[error("syncer `{syncer}` repeated page token {token:?} in the {context}")]
    PageTokenRepeated {
        /// The resource type of the syncer.
        syncer: ResourceTypeId,
        /// Where.
        context: Box<SyncContext>,
        /// The repeated token.
        token: String,
    },
    /// Grants that point at missing entitlements or principals, or at principals the entitlement
    /// is not grantable to.
    #[error("{count} grant integrity violation(s), first: {}", first.first().map(ToString::to_string).unwrap_or_default())]
    Integrity {
        /// How many violations there are in all.
        count: u64,
        /// The first few.
        first: Vec<IntegrityIssue>,
    },
    /// The sync was cancelled; it can be resumed.
    #[error("sync cancelled")]
    Cancelled,
    /// Another engine (this process or another) holds the connector's unfinished run and its
    /// heartbeat is fresh. Nothing was changed.
    #[error(
        "sync already in progress: run {run} is held by {holder}, last heartbeat {} s ago",
        heartbeat_age.as_secs()
    )]
    InProgress {
        /// The run.
        run: RunId,
        /// Who holds it.
        holder: Holder,
        /// How long ago its last heartbeat was.
        heartbeat_age: Duration,
    },
    /// The store's latest completed run of the connector has another fingerprint (another
    /// tenant, or other settings): a store holds one tenant, so the sync was refused before it
    /// began. [`crate::SyncConfig::with_fingerprint_change`] lets it go ahead.
    #[error(
        "the store holds run {run} of {stored:?}, not of {current:?}: a store holds one tenant \
         (use another store, or allow the change explicitly)"
    )]
    OtherFingerprint {
        /// The latest completed run.
        run: RunId,
        /// Its fingerprint.
        stored: String,
        /// The fingerprint of this sync.
        current: String,
    },
    /// Another engine took the run over (this engine's heartbeat had gone stale); this engine
    /// stopped without writing more.
    #[error("lost the lease on run {0} to another engine")]
    LeaseLost(RunId),
    /// The store failed.
    #[error("store error")]
    Store(#[from] StoreError),
    /// The connector's registration is inconsistent.
    #[error("invalid registration: {0}")]
    Registration(String),
    /// Nothing is registered for this resource type and capability.
    #[error("resource type `{resource_type}` has no {capability}")]
    Unsupported {
        /// The resource type asked for.
        resource_type: ResourceTypeId,
        /// The missing capability, such as `provisioner`.
        capability: &'static str,
    },
    /// The connector registers no action of this name.
    #[error("unknown action `{0}`")]
    UnknownAction(String),
    /// The connector does not create accounts.
    #[error("the connector does not create accounts")]
    AccountCreationUnsupported,
    /// Arguments of an action or fields of an account failed validation; the connector was not
    /// called.
    #[error(transparent)]
    Argument(#[from] ArgumentError),
    /// A provisioning, account or action call failed.
    #[error("{operation} failed")]
    Operation {
        /// What was attempted, such as `grant group:7:member to user:42`.
        operation: String,
        /// The connector's error.
        #[source]
        source: ConnectorError,
    },
    /// An engine task ended abnormally (it panicked or was aborted); the join error is the
    /// source.
    #[error("internal engine error: the {task} task ended abnormally")]
    Internal {
        /// Which task: `store` or `fetch`.
        task: &'static str,
        /// The task's join error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// The exit code a command-line program ends with on this error: 2 when the request was
    /// refused before the connector acted (an argument, an unknown action, a capability the
    /// connector lacks, an invalid registration) or the connector refused it as invalid
    /// ([`ErrorKind::exit_code`]); 1 for every other failure.
    pub fn exit_code(&self) -> u8 {
        self.kind().exit_code()
    }

    /// What kind of failure it is: the connector's kind for a failed call, the SDK's own
    /// otherwise. The one classification of SDK errors: each host maps the kind to its codes
    /// ([`ErrorKind::exit_code`], [`ErrorKind::http_status`], service mode's gRPC codes).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Connector { source, .. } | Self::Operation { source, .. } => source.kind(),
            Self::RetriesExhausted { .. } => ErrorKind::RetriedByConnector,
            Self::Argument(_) | Self::Registration(_) => ErrorKind::InvalidArgument,
            Self::UnknownAction(_)
            | Self::Unsupported { .. }
            | Self::AccountCreationUnsupported => ErrorKind::Unsupported,
            Self::Cancelled => ErrorKind::Cancelled,
            Self::InProgress { .. } | Self::LeaseLost(_) => ErrorKind::Busy,
            Self::OtherFingerprint { .. } => ErrorKind::OtherTenant,
            Self::PageTokenRepeated { .. }
            | Self::Integrity { .. }
            | Self::Store(_)
            | Self::Internal { .. } => ErrorKind::Internal,
        }
    }
}

/// An error and its sources on one line, `: `-separated, skipping a source whose text the line
/// already holds (messages that repeat their source print it once).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = s.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("HTTP 404 for GET /things/7")]
    struct Upstream;

    #[test]
    fn every_kind_keeps_a_typed_source_and_says_only_what_it_adds() {
        let errors = [
            ConnectorError::not_found("no such thing").with_source(Upstream),
            ConnectorError::invalid_argument("refused").with_source(Upstream),
            ConnectorError::permission_denied("refused").with_source(Upstream),
            ConnectorError::unauthenticated("refused").with_source(Upstream),
            ConnectorError::fatal("broken").with_source(Upstream),
            ConnectorError::retried_by_connector("down", Upstream),
        ];
        for error in &errors {
            let source = std::error::Error::source(error).unwrap();
            assert!(source.downcast_ref::<Upstream>().is_some(), "{error:?}");
            assert!(!error.to_string().contains("HTTP 404"), "{error}");
            assert!(error_chain(error).ends_with(": HTTP 404 for GET /things/7"));
        }
        assert_eq!(
            error_chain(&errors[0]),
            "not found: no such thing: HTTP 404 for GET /things/7"
        );
        let limited = ConnectorError::rate_limited(Some(Duration::from_secs(3)));
        assert_eq!(limited.kind(), ErrorKind::RateLimited);
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(limited.to_string(), "rate limited by the upstream service");
        assert_eq!(
            ConnectorError::fatal("broken").to_string(),
            "broken",
            "a fatal error is its message"
        );
    }

    #[test]
    fn refused_arguments_keep_the_argument_error() {
        let arguments =
            crate::capability::Arguments::validate("action `x`", &[], serde_json::Map::new())
                .unwrap();
        let error = ConnectorError::from(arguments.invalid("user_id", "must be a number"));
        let source = std::error::Error::source(&error).unwrap();
        assert!(source.downcast_ref::<ArgumentError>().is_some());
        assert_eq!(
            error_chain(&error),
            format!("invalid argument: the arguments were refused: {source}")
        );
    }

    #[test]
    fn exit_codes_say_whether_the_request_or_the_operation_failed() {
        let operation = |kind| Error::Operation {
            operation: "grant".into(),
            source: ConnectorError::new(kind, "x"),
        };
        assert_eq!(operation(ErrorKind::InvalidArgument).exit_code(), 2);
        for kind in [
            ErrorKind::NotFound,
            ErrorKind::Fatal,
            ErrorKind::RateLimited,
            ErrorKind::Unauthenticated,
        ] {
            assert_eq!(operation(kind).exit_code(), 1, "{kind:?}");
        }
        assert_eq!(Error::UnknownAction("x".into()).exit_code(), 2);
        assert_eq!(Error::AccountCreationUnsupported.exit_code(), 2);
        assert_eq!(Error::Cancelled.exit_code(), 1);
    }

    #[test]
    fn every_sdk_error_has_one_kind_that_every_host_maps() {
        let failed = |kind| ConnectorError::new(kind, "x");
        let context = || {
            Box::new(SyncContext {
                stage: Stage::Resources,
                resource_type: ResourceTypeId::new("user"),
                resource: None,
            })
        };
        let cases = [
            (
                Error::Connector {
                    context: context(),
                    source: failed(ErrorKind::PermissionDenied),
                },
                ErrorKind::PermissionDenied,
            ),
            (
                Error::RetriesExhausted {
                    context: context(),
                    attempts: 5,
                    source: failed(ErrorKind::Transient),
                },
                ErrorKind::RetriedByConnector,
            ),
            (Error::Cancelled, ErrorKind::Cancelled),
            (Error::LeaseLost(RunId::from_raw(1)), ErrorKind::Busy),
            (
                Error::OtherFingerprint {
                    run: RunId::from_raw(1),
                    stored: "a".into(),
                    current: "b".into(),
                },
                ErrorKind::OtherTenant,
            ),
            (Error::UnknownAction("x".into()), ErrorKind::Unsupported),
            (Error::Registration("x".into()), ErrorKind::InvalidArgument),
            (Error::Store(StoreError::Poisoned), ErrorKind::Internal),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{error}");
            assert_eq!(error.exit_code(), kind.exit_code(), "{error}");
        }
        assert_eq!(
            [ErrorKind::Busy, ErrorKind::OtherTenant, ErrorKind::Internal]
                .map(ErrorKind::http_status),
            [409, 409, 500]
        );
        assert_eq!(ErrorKind::Unsupported.exit_code(), 2);
    }
}
