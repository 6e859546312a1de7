//! What a connector gives the command line ([`ConnectorCli`]), and what it gets back.

use std::any::Any;

use async_trait::async_trait;
use connector_sdk::{ActionResult, EntitlementId, Registry, ResourceId};
use serde_json::{Value, json};

use crate::{CliError, printable};

/// What a command is about to do with the connector it opens, so a connector can choose (a
/// real tenant, a demo, a refusal) and say what it chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenFor {
    /// `sync`: read everything.
    Sync,
    /// `capabilities`: only the registration is read; nothing is called.
    Describe,
    /// `grant`, `revoke`, `create-account`, `action`: change access.
    Write,
    /// `serve`: syncs on a schedule and changes access on request.
    Serve,
}

/// An opened connector: its registration, whatever must live as long as it (a simulated
/// backend, say), and a notice for the operator.
pub struct Opened {
    pub(crate) registry: Registry,
    guard: Option<Box<dyn Any + Send + Sync>>,
    pub(crate) notice: Option<String>,
}

impl Opened {
    /// A registration and nothing else.
    pub fn new(registry: Registry) -> Self {
        Self {
            registry,
            guard: None,
            notice: None,
        }
    }

    /// Keeps `guard` alive until the command has finished.
    pub fn with_guard(mut self, guard: impl Any + Send + Sync) -> Self {
        self.guard = Some(Box::new(guard));
        self
    }

    /// A line the operator must see before the command acts, such as "syncing a SIMULATED
    /// tenant". Printed on standard error (logged as a warning by `serve`).
    pub fn with_notice(mut self, notice: impl Into<String>) -> Self {
        self.notice = Some(notice.into());
        self
    }
}

/// One outcome of a write, for people (`line`) and for scripts (`json`, whose `outcome` key
/// names it, such as `granted`).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// One line for people.
    pub line: String,
    /// One JSON object for scripts.
    pub json: Value,
    /// Whether access changed (what the audit trail records).
    pub changed: bool,
}

/// What a connector gives the command line.
#[async_trait]
pub trait ConnectorCli: Send + Sync + 'static {
    /// The connector's own flags. They are accepted before or after the subcommand (except
    /// after a write's `--FIELD VALUE` list), so they must be optional flags: a field that is
    /// required in the struct is still reported missing, by name.
    type Args: clap::Args + Send + Sync + 'static;

    /// The connector's version, such as `env!("CARGO_PKG_VERSION")` of its crate: what
    /// `--version` prints after the program's name and what ConductorOne's Hello reports.
    fn version(&self) -> &'static str;

    /// The connector configured by `args`, for `purpose`. Refuse (with
    /// [`CliError::usage`]) what must not happen, such as writing to a tenant nobody named.
    async fn open(&self, args: &Self::Args, purpose: OpenFor) -> Result<Opened, CliError>;

    /// The grant named by the words after `grant` or `revoke`: by default an entitlement id
    /// and a principal id (`group:7:member user:42`). A connector may accept shorter forms.
    fn grant_words(&self, words: &[String]) -> Result<(EntitlementId, ResourceId), CliError> {
        default_grant_words(words)
    }

    /// How `grant` and `revoke` describe their words in `--help`.
    fn grant_help(&self) -> &'static str {
        "ENTITLEMENT PRINCIPAL: an entitlement id and a principal id, such as group:7:member \
         user:42"
    }

    /// How the result of action `name` reads. By default: `ran NAME` and the result's fields
    /// (`{"outcome": "done", "action": NAME, "result": {…}}` in JSON), counted as a change
    /// unless the result says `"changed": false`.
    fn action_outcome(&self, name: &str, result: &ActionResult) -> Outcome {
        default_action_outcome(name, result)
    }
}

/// The default reading of grant words: `ENTITLEMENT PRINCIPAL`.
pub fn default_grant_words(words: &[String]) -> Result<(EntitlementId, ResourceId), CliError> {
    match words {
        [entitlement, principal] => {
            let entitlement = entitlement.parse::<EntitlementId>().map_err(|e| {
                CliError::usage(format!("entitlement {}", printable(entitlement))).with_source(e)
            })?;
            let principal = principal.parse::<ResourceId>().map_err(|e| {
                CliError::usage(format!("principal {}", printable(principal))).with_source(e)
            })?;
            Ok((entitlement, principal))
        }
        _ => Err(CliError::usage(format!(
            "expected ENTITLEMENT PRINCIPAL, got {} word(s)",
            words.len()
        ))),
    }
}

/// The default reading of an action's result.
pub fn default_action_outcome(name: &str, result: &ActionResult) -> Outcome {
    let fields: Vec<String> = result
        .as_map()
        .iter()
        .map(|(key, value)| match value {
            Value::String(text) => format!("{key}={}", printable(text)),
            other => format!("{key}={other}"),
        })
        .collect();
    let line = if fields.is_empty() {
        format!("ran {name}")
    } else {
        format!("ran {name}: {}", fields.join(" "))
    };
    Outcome {
        line,
        json: json!({"outcome": "done", "action": name, "result": result.as_map()}),
        changed: result.get("changed").and_then(Value::as_bool) != Some(false),
    }
}
