//! One command line for every connector built on `connector_sdk`: a connector says how its own
//! flags become a [`Registry`] ([`ConnectorCli`]) and gets a binary with the subcommands `sync`,
//! `grant`, `revoke`, `create-account`, `action`, `capabilities` and `serve`, each with
//! `--json`, the same exit codes and the same refusals.
//!
//! ```no_run
//! use connector_cli::{Cli, CliError, ConnectorCli, Opened, Purpose};
//!
//! /// The connector's own flags.
//! #[derive(Debug, clap::Args)]
//! struct Args {
//!     /// The directory file.
//!     #[arg(long)]
//!     file: std::path::PathBuf,
//! }
//!
//! struct Directory;
//!
//! #[async_trait::async_trait]
//! impl ConnectorCli for Directory {
//!     type Args = Args;
//!     async fn open(&self, args: &Args, _purpose: Purpose) -> Result<Opened, CliError> {
//!         # fn registry(_: &std::path::Path) -> Result<connector_sdk::Registry, connector_sdk::Error> { unimplemented!() }
//!         Ok(Opened::new(registry(&args.file)?))
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     Cli::new("directory", Directory).main()
//! }
//! ```
//!
//! Exit codes: 0 done (or already so), 1 the operation failed, 2 usage or configuration
//! (including a request the connector refused as invalid; see
//! [`connector_sdk::Error::exit_code`]). With `--json`, an outcome (or an error) is one JSON
//! object on standard output.

mod command;
mod error;
mod fields;
mod serve;
mod signal;
mod sync;
mod write;

use std::any::Any;
use std::ffi::OsString;
use std::process::ExitCode;

use async_trait::async_trait;
use connector_sdk::{ActionResult, EntitlementId, Registry, ResourceId};
use serde_json::{Value, json};

pub use error::CliError;
pub use signal::{printable, shutdown_signal};

/// What a command is about to do with the connector it opens, so a connector can choose (a
/// real tenant, a demo, a refusal) and say what it chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Purpose {
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
    registry: Registry,
    guard: Option<Box<dyn Any + Send + Sync>>,
    notice: Option<String>,
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

    /// The connector configured by `args`, for `purpose`. Refuse (with
    /// [`CliError::Usage`]) what must not happen, such as writing to a tenant nobody named.
    async fn open(&self, args: &Self::Args, purpose: Purpose) -> Result<Opened, CliError>;

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
                CliError::Usage(format!("entitlement {}: {e}", printable(entitlement)))
            })?;
            let principal = principal
                .parse::<ResourceId>()
                .map_err(|e| CliError::Usage(format!("principal {}: {e}", printable(principal))))?;
            Ok((entitlement, principal))
        }
        _ => Err(CliError::Usage(format!(
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

/// Which subcommand runs when none is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Default {
    /// None: a subcommand is required.
    None,
    /// `sync`: its flags are accepted without the word.
    Sync,
    /// `serve`: its flags are accepted without the word.
    Serve,
}

/// A connector's command line.
pub struct Cli<C> {
    name: &'static str,
    about: Option<&'static str>,
    default: Default,
    connector: C,
}

impl<C: ConnectorCli> Cli<C> {
    /// The command line of `connector`, for a binary called `name` (which also names the
    /// default store file, `NAME.db`).
    pub fn new(name: &'static str, connector: C) -> Self {
        Self {
            name,
            about: None,
            default: Default::None,
            connector,
        }
    }

    /// The one-line description `--help` starts with.
    pub fn with_about(mut self, about: &'static str) -> Self {
        self.about = Some(about);
        self
    }

    /// The subcommand that runs when none is named.
    pub fn with_default(mut self, default: Default) -> Self {
        self.default = default;
        self
    }

    /// The clap command, for `--help` and completions.
    pub fn command(&self) -> clap::Command {
        command::build::<C>(
            self.name,
            self.about,
            self.default,
            self.connector.grant_help(),
        )
    }

    /// Runs the program with the process's arguments and returns its exit code: parses them
    /// (printing help or a usage error), starts a runtime, runs the command, prints the outcome
    /// on standard output and a failure as one line on standard error.
    pub fn main(self) -> ExitCode {
        self.main_from(std::env::args_os())
    }

    /// [`Cli::main`] with the given arguments (the first is the program name).
    pub fn main_from(self, args: impl IntoIterator<Item = OsString>) -> ExitCode {
        let matches = match self.command().try_get_matches_from(args) {
            Ok(matches) => matches,
            Err(error) => {
                let _ = error.print();
                return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
            }
        };
        let parsed = match command::Parsed::<C>::from_matches(&matches, self.default) {
            Ok(parsed) => parsed,
            Err(error) => {
                let _ = error.print();
                return ExitCode::from(2);
            }
        };
        signal::init_logs(&parsed);
        let json = parsed.json;
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                eprintln!("{}: cannot start the runtime: {e}", self.name);
                return ExitCode::FAILURE;
            }
        };
        let name = self.name;
        match runtime.block_on(self.run(parsed)) {
            Ok(stdout) => {
                print!("{stdout}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                if json {
                    println!("{}", error.to_json());
                }
                eprintln!("{name}: {}", error.message());
                ExitCode::from(error.exit_code())
            }
        }
    }

    /// Runs the program with `args` (the first is the program name) inside the caller's
    /// runtime, without touching logging: what `main` would print on standard output, or the
    /// error it would exit with. Help and version text are printed output; a parse error is a
    /// [`CliError::Usage`] carrying clap's message. For embedding and for tests.
    pub async fn run_from(
        self,
        args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    ) -> Result<String, CliError> {
        let parse_error = |error: clap::Error| match error.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                Ok(error.render().to_string())
            }
            _ => Err(CliError::Usage(
                error.render().to_string().trim().to_owned(),
            )),
        };
        let matches = match self.command().try_get_matches_from(args) {
            Ok(matches) => matches,
            Err(error) => return parse_error(error),
        };
        match command::Parsed::<C>::from_matches(&matches, self.default) {
            Ok(parsed) => self.run(parsed).await,
            Err(error) => parse_error(error),
        }
    }

    /// Runs parsed arguments; returns what goes to standard output.
    async fn run(self, parsed: command::Parsed<C>) -> Result<String, CliError> {
        let command::Parsed {
            connector_args,
            json,
            action,
            ..
        } = parsed;
        let ctx = Ctx {
            name: self.name,
            connector: &self.connector,
            args: &connector_args,
            json,
        };
        match action {
            command::Action::Sync(args) => sync::run(&ctx, args).await,
            command::Action::Serve(args) => serve::run(&ctx, args).await.map(|()| String::new()),
            command::Action::Capabilities => {
                let opened = ctx.open(Purpose::Describe).await?;
                Ok(describe(&opened.registry, json))
            }
            command::Action::Write(write) => write::run(&ctx, write).await,
        }
    }
}

/// What every command gets.
pub(crate) struct Ctx<'a, C: ConnectorCli> {
    pub(crate) name: &'static str,
    pub(crate) connector: &'a C,
    pub(crate) args: &'a C::Args,
    pub(crate) json: bool,
}

impl<C: ConnectorCli> Ctx<'_, C> {
    /// Opens the connector; prints its notice on standard error except for writes, whose
    /// standard error is the audit trail, and `serve`, which logs it.
    pub(crate) async fn open(&self, purpose: Purpose) -> Result<Opened, CliError> {
        let opened = self.connector.open(self.args, purpose).await?;
        if let Some(notice) = &opened.notice {
            match purpose {
                Purpose::Serve => tracing::warn!("{notice}"),
                Purpose::Write => {}
                _ => eprintln!("{}: {notice}", self.name),
            }
        }
        Ok(opened)
    }
}

/// The SQLite store at `path`.
pub(crate) fn open_store(
    path: &std::path::Path,
) -> Result<std::sync::Arc<connector_sdk::SqliteStore>, CliError> {
    match connector_sdk::SqliteStore::open(path) {
        Ok(store) => Ok(std::sync::Arc::new(store)),
        Err(e) => Err(CliError::Failed(format!(
            "cannot open {}: {}",
            path.display(),
            connector_sdk::error_chain(&e)
        ))),
    }
}

/// The capability manifest: JSON, or a few lines for people.
fn describe(registry: &Registry, json: bool) -> String {
    let manifest = registry.manifest();
    if json {
        return manifest.to_json();
    }
    let mut out = format!(
        "{} ({})\n\nresource types:\n",
        manifest.connector.display_name, manifest.connector.id
    );
    for t in &manifest.resource_types {
        let capabilities: Vec<String> = t
            .capabilities
            .iter()
            .map(|c| serde_json::to_value(c).map_or_else(|_| format!("{c:?}"), plain))
            .collect();
        out.push_str(&format!(
            "  {:<16} {}\n",
            t.id.to_string(),
            capabilities.join(", ")
        ));
    }
    if !manifest.actions.is_empty() {
        out.push_str("\nactions:\n");
        for action in &manifest.actions {
            let arguments: Vec<String> = action.arguments.iter().map(field_usage).collect();
            out.push_str(&format!("  {} {}\n", action.name, arguments.join(" ")));
        }
    }
    if let Some(accounts) = &manifest.account_creation {
        let fields: Vec<String> = accounts.fields.iter().map(field_usage).collect();
        out.push_str(&format!("\ncreate-account {}\n", fields.join(" ")));
    }
    out
}

fn plain(value: Value) -> String {
    match value {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

/// `--first-name VALUE`, in brackets when optional.
fn field_usage(field: &connector_sdk::FieldSpec) -> String {
    let flag = format!("--{} VALUE", field.name.replace('_', "-"));
    if field.required {
        flag
    } else {
        format!("[{flag}]")
    }
}
