//! One command line for every connector built on `connector_sdk`: a connector says how its own
//! flags become a [`Registry`](connector_sdk::Registry) ([`ConnectorCli`]) and gets a binary with the subcommands `sync`,
//! `grant`, `revoke`, `create-account`, `action`, `capabilities` and `serve`, each with
//! `--json`, the same exit codes and the same refusals.
//!
//! ```no_run
//! use connector_cli::{Cli, CliError, ConnectorCli, Opened, OpenFor};
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
//!     fn version(&self) -> &'static str {
//!         env!("CARGO_PKG_VERSION")
//!     }
//!     async fn open(&self, args: &Args, _for: OpenFor) -> Result<Opened, CliError> {
//!         Ok(Opened::new(directory_registry(&args.file)?))
//!     }
//! }
//!
//! /// The connector's registration (see `connector_sdk::Registry::builder`).
//! fn directory_registry(
//!     file: &std::path::Path,
//! ) -> Result<connector_sdk::Registry, connector_sdk::Error> {
//!     # Err(connector_sdk::Error::Registration(format!("{}", file.display())))
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

mod c1;
mod capabilities;
mod command;
mod connector;
mod error;
mod fields;
mod probes;
mod serve;
mod signal;
mod store;
mod sync;
mod write;

use std::ffi::OsString;
use std::process::ExitCode;

pub use connector::{
    ConnectorCli, OpenFor, Opened, Outcome, default_action_outcome, default_grant_words,
};
pub use error::CliError;
pub use signal::{printable, shutdown_signal};
pub use store::StoreTarget;

/// Which subcommand runs when none is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DefaultCommand {
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
    default: DefaultCommand,
    connector: C,
}

impl<C: ConnectorCli> Cli<C> {
    /// The command line of `connector`, for a binary called `name` (which also names the
    /// default store file, `NAME.db`).
    pub fn new(name: &'static str, connector: C) -> Self {
        Self {
            name,
            about: None,
            default: DefaultCommand::None,
            connector,
        }
    }

    /// The one-line description `--help` starts with.
    pub fn with_about(mut self, about: &'static str) -> Self {
        self.about = Some(about);
        self
    }

    /// The subcommand that runs when none is named.
    pub fn with_default(mut self, default: DefaultCommand) -> Self {
        self.default = default;
        self
    }

    /// Checks that none of the connector's flags takes the name of a built-in one (`--out`,
    /// `--file`, `-f`, …): such a flag would be read as the built-in one. The programs refuse
    /// to run with one (a usage error); a connector crate calls this in a test, so it never
    /// ships one.
    pub fn check_flags(&self) -> Result<(), CliError> {
        let collisions = command::collisions::<C>();
        if collisions.is_empty() {
            return Ok(());
        }
        Err(CliError::usage(format!(
            "the connector's flags take names the command line keeps for its own: {}",
            collisions.join(", ")
        )))
    }

    /// The clap command, for `--help` and completions.
    pub fn command(&self) -> clap::Command {
        command::build::<C>(
            self.name,
            self.connector.version(),
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
        if let Err(error) = self.check_flags() {
            eprintln!("{}: {}", self.name, error.chain());
            return ExitCode::from(error.exit_code());
        }
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
                eprintln!("{name}: {}", error.chain());
                ExitCode::from(error.exit_code())
            }
        }
    }

    /// Runs the program with `args` (the first is the program name) inside the caller's
    /// runtime, without touching logging: what `main` would print on standard output, or the
    /// error it would exit with. Help and version text are printed output; a parse error is a
    /// [`CliError::usage`] error carrying clap's message. For embedding and for tests.
    pub async fn run_from(
        self,
        args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    ) -> Result<String, CliError> {
        self.check_flags()?;
        let parse_error = |error: clap::Error| match error.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                Ok(error.render().to_string())
            }
            _ => Err(CliError::usage(
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
            command::Action::Serve(args) => {
                if let Some(file) = args.file.clone() {
                    return sync::run(&ctx, args.one_shot(file)).await;
                }
                match (args.client_id.clone(), args.client_secret.clone()) {
                    (Some(id), Some(secret)) => c1::run(&ctx, args, &id, secret).await,
                    (None, Some(_)) => Err(CliError::usage(
                        "a ConductorOne client secret (BATON_CLIENT_SECRET) is set without a \
                         client id (--client-id, BATON_CLIENT_ID)",
                    )),
                    _ => serve::run(&ctx, args).await,
                }
                .map(|()| String::new())
            }
            command::Action::HealthCheck(args) => probes::check(args).await,
            command::Action::Capabilities => {
                let opened = ctx.open(OpenFor::Describe).await?;
                Ok(capabilities::describe(&opened.registry, json))
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
    pub(crate) async fn open(&self, purpose: OpenFor) -> Result<Opened, CliError> {
        let opened = self.connector.open(self.args, purpose).await?;
        if let Some(notice) = &opened.notice {
            match purpose {
                OpenFor::Serve => tracing::warn!("{notice}"),
                OpenFor::Write => {}
                _ => eprintln!("{}: {notice}", self.name),
            }
        }
        Ok(opened)
    }
}
