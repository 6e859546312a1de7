//! The command line's shape: global flags, the connector's flags, the subcommands, and the
//! default subcommand's flags at the top level.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgMatches, Args, FromArgMatches, Subcommand};

use crate::{ConnectorCli, Default};

/// Flags every subcommand takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Print the outcome (or the error) as one JSON object.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Log lines as text or JSON on standard error (default: JSON for writes, whose log is the
    /// audit trail; text otherwise).
    #[arg(long, global = true, value_enum)]
    pub(crate) log_format: Option<LogFormat>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// Flags of `sync`.
#[derive(Debug, Clone, Args)]
pub(crate) struct SyncArgs {
    /// The SQLite file to write; an interrupted sync in it is resumed.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub(crate) workers: usize,
    /// Start a new run even when an unfinished one could be resumed (it is marked failed).
    #[arg(long)]
    pub(crate) fresh: bool,
    /// Sync into a store whose latest completed run is of another tenant (or other settings):
    /// refused without this flag, since a store holds one tenant.
    #[arg(long)]
    pub(crate) switch_tenant: bool,
    /// Completed runs kept in the store: older runs are pruned after each completed sync
    /// (0 keeps every run).
    #[arg(long, default_value_t = 2)]
    pub(crate) keep_runs: usize,
    /// Also write the completed run as a baton `.c1z` file here (a file already there keeps its
    /// previous sync, for `baton diff`).
    #[arg(long)]
    pub(crate) c1z: Option<PathBuf>,
    /// Write the summary as JSON to this file.
    #[arg(long)]
    pub(crate) summary_json: Option<PathBuf>,
}

/// Flags of `serve`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServeArgs {
    /// The SQLite file syncs are stored in (an interrupted sync in it is resumed).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Time between scheduled syncs, such as 30m, 1h or 90s.
    #[arg(long, default_value = "1h", value_parser = parse_interval)]
    pub(crate) interval: Duration,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,
    /// Serve /v1 without authentication (SERVICE_TOKEN unset). Only on a loopback address.
    #[arg(long)]
    pub(crate) insecure_no_auth: bool,
    /// Sync into a store whose latest completed run is of another tenant (or other settings).
    #[arg(long)]
    pub(crate) switch_tenant: bool,
    /// Completed runs kept in the store (0 keeps every run).
    #[arg(long, default_value_t = 2)]
    pub(crate) keep_runs: usize,
    /// Requests in flight at once during a sync.
    #[arg(long, default_value_t = 8)]
    pub(crate) workers: usize,
    /// ConductorOne client id: run as a ConductorOne self-hosted connector (service mode)
    /// instead of serving /v1; /livez, /readyz and /metrics stay on --listen.
    #[arg(
        id = "c1_client_id",
        long = "client-id",
        value_name = "CLIENT_ID",
        env = "BATON_CLIENT_ID",
        requires = "c1_client_secret"
    )]
    pub(crate) client_id: Option<String>,
    /// ConductorOne client secret (`secret-token:…`); prefer the environment.
    #[arg(
        id = "c1_client_secret",
        long = "client-secret",
        env = "BATON_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub(crate) client_secret: Option<secrecy::SecretString>,
    /// In service mode, run grant, revoke, account-creation and action tasks (without it they
    /// are refused).
    #[arg(
        short = 'p',
        long,
        env = "BATON_PROVISIONING",
        requires = "c1_client_id"
    )]
    pub(crate) provisioning: bool,
    /// Sync once, write the `.c1z` here and exit (baton's one-shot mode).
    #[arg(short = 'f', long, conflicts_with = "c1_client_id")]
    pub(crate) file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) health: HealthServer,
}

/// baton's health-check server, in service mode.
#[derive(Debug, Clone, Args)]
pub(crate) struct HealthServer {
    /// In service mode, also serve baton's health checks (/health, /ready, /live) on
    /// --health-check-bind-address:--health-check-port.
    #[arg(long = "health-check", env = "BATON_HEALTH_CHECK")]
    pub(crate) enabled: bool,
    #[command(flatten)]
    pub(crate) at: HealthAddress,
}

/// Where baton's health checks are served.
#[derive(Debug, Clone, Args)]
pub(crate) struct HealthAddress {
    /// The port of baton's health checks.
    #[arg(
        long = "health-check-port",
        env = "BATON_HEALTH_CHECK_PORT",
        default_value_t = 8081
    )]
    pub(crate) port: u16,
    /// The address baton's health checks listen on.
    #[arg(
        long = "health-check-bind-address",
        env = "BATON_HEALTH_CHECK_BIND_ADDRESS",
        default_value = "127.0.0.1",
        hide = true
    )]
    pub(crate) bind_address: std::net::IpAddr,
}

/// Which of baton's health checks to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Endpoint {
    Health,
    Ready,
    Live,
}

impl Endpoint {
    pub(crate) fn path(self) -> &'static str {
        match self {
            Self::Health => "health",
            Self::Ready => "ready",
            Self::Live => "live",
        }
    }
}

/// Flags of `health-check`.
#[derive(Debug, Clone, Args)]
pub(crate) struct HealthCheckArgs {
    /// The check to ask for.
    #[arg(long, value_enum, default_value = "health")]
    pub(crate) endpoint: Endpoint,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5)]
    pub(crate) timeout: u64,
    #[command(flatten)]
    pub(crate) at: HealthAddress,
}

impl ServeArgs {
    /// The sync of a one-shot `serve -f FILE`.
    pub(crate) fn one_shot(&self, file: PathBuf) -> SyncArgs {
        SyncArgs {
            out: self.out.clone(),
            workers: self.workers,
            fresh: false,
            switch_tenant: self.switch_tenant,
            keep_runs: self.keep_runs,
            c1z: Some(file),
            summary_json: None,
        }
    }
}

/// Where a write records its intent before a change that takes more than one request.
#[derive(Debug, Clone, Args)]
pub(crate) struct JournalArg {
    /// The write-ahead journal (a SQLite file): a write that takes several requests records
    /// what it changes here first, and an interrupted one is repaired before the next write.
    /// Default: $XDG_STATE_HOME/NAME/journal.db, else ~/.local/state/NAME/journal.db.
    #[arg(long, value_name = "FILE")]
    pub(crate) journal: Option<PathBuf>,
}

/// The words of `grant` and `revoke`.
#[derive(Debug, Args)]
pub(crate) struct GrantWords {
    #[command(flatten)]
    pub(crate) journal: JournalArg,
    /// What to grant and to whom.
    #[arg(required = true, num_args = 1.., value_name = "WORDS")]
    pub(crate) words: Vec<String>,
}

/// `--FIELD VALUE` pairs, as the connector's schema declares them.
#[derive(Debug, Args)]
pub(crate) struct FieldWords {
    #[command(flatten)]
    pub(crate) journal: JournalArg,
    /// `--FIELD VALUE` for each field (`--first-name Ada`; a list field repeats its flag,
    /// singular or plural: `--license a --license b`). `capabilities` lists the fields.
    #[arg(
        num_args = 0..,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "--FIELD VALUE"
    )]
    pub(crate) fields: Vec<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Sync everything into a SQLite file and print a summary.
    Sync(SyncArgs),
    /// Give a principal an entitlement.
    Grant(GrantWords),
    /// Take an entitlement away from a principal.
    Revoke(GrantWords),
    /// Create an account.
    CreateAccount(FieldWords),
    /// Run one of the connector's actions.
    Action {
        /// The action's name (`capabilities` lists them).
        name: String,
        #[command(flatten)]
        arguments: FieldWords,
    },
    /// Print what the connector can do: resource types, actions, account fields.
    Capabilities,
    /// Run as a service: scheduled syncs, health, metrics, an HTTP API.
    Serve(ServeArgs),
    /// Ask a running connector's health-check server (baton's --health-check) and exit 0 only
    /// when it answers 200.
    HealthCheck(HealthCheckArgs),
}

/// A write, its words still to be read against the connector.
#[derive(Debug)]
pub(crate) enum Write {
    Grant(Vec<String>),
    Revoke(Vec<String>),
    CreateAccount(Vec<String>),
    Action(String, Vec<String>),
}

/// A write and the journal it records its intents in.
#[derive(Debug)]
pub(crate) struct JournaledWrite {
    pub(crate) write: Write,
    pub(crate) journal: Option<PathBuf>,
}

/// What to run.
#[derive(Debug)]
pub(crate) enum Action {
    Sync(SyncArgs),
    Serve(ServeArgs),
    Capabilities,
    HealthCheck(HealthCheckArgs),
    Write(JournaledWrite),
}

impl Action {
    fn write(write: Write, journal: JournalArg) -> Self {
        Self::Write(JournaledWrite {
            write,
            journal: journal.journal,
        })
    }
}

/// Parsed arguments.
pub(crate) struct Parsed<C: ConnectorCli> {
    pub(crate) connector_args: C::Args,
    pub(crate) json: bool,
    pub(crate) log_format: Option<LogFormat>,
    pub(crate) action: Action,
}

impl<C: ConnectorCli> Parsed<C> {
    pub(crate) fn from_matches(
        matches: &ArgMatches,
        default: Default,
    ) -> Result<Self, clap::Error> {
        let connector_args = C::Args::from_arg_matches(matches)?;
        let global = Global::from_arg_matches(matches)?;
        let action = if matches.subcommand_name().is_some() {
            match Command::from_arg_matches(matches)? {
                Command::Sync(args) => Action::Sync(args),
                Command::Serve(args) => Action::Serve(args),
                Command::Capabilities => Action::Capabilities,
                Command::HealthCheck(args) => Action::HealthCheck(args),
                Command::Grant(w) => Action::write(Write::Grant(w.words), w.journal),
                Command::Revoke(w) => Action::write(Write::Revoke(w.words), w.journal),
                Command::CreateAccount(f) => {
                    Action::write(Write::CreateAccount(f.fields), f.journal)
                }
                Command::Action { name, arguments } => {
                    Action::write(Write::Action(name, arguments.fields), arguments.journal)
                }
            }
        } else {
            match default {
                Default::Sync => Action::Sync(SyncArgs::from_arg_matches(matches)?),
                Default::Serve => Action::Serve(ServeArgs::from_arg_matches(matches)?),
                Default::None => {
                    return Err(clap::Error::raw(
                        clap::error::ErrorKind::MissingSubcommand,
                        "a subcommand is required\n",
                    ));
                }
            }
        };
        Ok(Self {
            connector_args,
            json: global.json,
            log_format: global.log_format,
            action,
        })
    }
}

/// The command: the connector's flags (global, optional to clap so they may follow the
/// subcommand), the global flags, the subcommands, and the default subcommand's flags.
pub(crate) fn build<C: ConnectorCli>(
    name: &'static str,
    version: &'static str,
    about: Option<&'static str>,
    default: Default,
    grant_help: &'static str,
) -> clap::Command {
    let mut command = clap::Command::new(name).version(version);
    command = C::Args::augment_args(command);
    let ids: Vec<clap::Id> = command
        .get_arguments()
        .filter(|a| !a.is_positional())
        .map(|a| a.get_id().clone())
        .collect();
    for id in ids {
        command = command.mut_arg(id, |a| a.global(true).required(false));
    }
    command = Global::augment_args(command);
    command = Command::augment_subcommands(command);
    let out = format!("{name}.db");
    for sub in ["sync", "serve"] {
        let out = out.clone();
        command = command.mut_subcommand(sub, |s| {
            s.mut_arg("out", |a| a.default_value(out).required(false))
        });
    }
    for sub in ["grant", "revoke"] {
        command = command.mut_subcommand(sub, |s| s.mut_arg("words", |a| a.help(grant_help)));
    }
    command = match default {
        Default::None => command.subcommand_required(true),
        Default::Sync => SyncArgs::augment_args(command),
        Default::Serve => ServeArgs::augment_args(command),
    };
    if default != Default::None {
        command = command
            .mut_arg("out", |a| a.default_value(out).required(false))
            .args_conflicts_with_subcommands(true);
    }
    // Set last: the derived pieces bring their own doc comments as descriptions.
    command.about(about)
}

/// The longest interval accepted: a week.
const MAX_INTERVAL: Duration = Duration::from_secs(7 * 24 * 3600);

/// `90s`, `30m`, `1h` or a number of seconds, from 1 s to a week.
pub(crate) fn parse_interval(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 90s, 30m or 1h"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("{text:?}: the unit must be s, m or h")),
    };
    if seconds == 0 {
        return Err("the interval must be more than 0".into());
    }
    let interval = Duration::from_secs(seconds);
    if interval > MAX_INTERVAL {
        return Err(format!(
            "{text:?} is longer than a week (168h), the longest interval"
        ));
    }
    Ok(interval)
}
