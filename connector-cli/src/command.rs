//! The command line's shape: global flags, the connector's flags, the subcommands, and the
//! default subcommand's flags at the top level.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgMatches, Args, FromArgMatches, Subcommand};

use crate::{ConnectorCli, DefaultCommand};

/// Flags every subcommand takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Print the outcome (or the error) as one JSON object.
    #[arg(id = "cli-json", long = "json", global = true)]
    pub(crate) json: bool,
    /// Log lines as text or JSON on standard error (default: JSON for writes, whose log is the
    /// audit trail; text otherwise).
    #[arg(
        id = "cli-log-format",
        value_name = "LOG_FORMAT",
        long = "log-format",
        global = true,
        value_enum
    )]
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
    /// Where runs are stored: a SQLite file, or a PostgreSQL database
    /// (`postgres://user@host/db`, password in the URL or `PGPASSWORD`); an interrupted sync in
    /// it is resumed.
    #[arg(id = "cli-out", value_name = "OUT", long = "out")]
    pub(crate) out: crate::StoreTarget,
    /// Requests in flight at once.
    #[arg(
        id = "cli-workers",
        value_name = "WORKERS",
        long = "workers",
        default_value_t = 8
    )]
    pub(crate) workers: usize,
    /// Start a new run even when an unfinished one could be resumed (it is marked failed).
    #[arg(id = "cli-fresh", long = "fresh")]
    pub(crate) fresh: bool,
    /// Sync into a store whose latest completed run is of another tenant (or other settings):
    /// refused without this flag, since a store holds one tenant.
    #[arg(id = "cli-switch-tenant", long = "switch-tenant")]
    pub(crate) switch_tenant: bool,
    /// Completed runs kept in the store: older runs are pruned after each completed sync
    /// (0 keeps every run).
    #[arg(
        id = "cli-keep-runs",
        value_name = "KEEP_RUNS",
        long = "keep-runs",
        default_value_t = 2
    )]
    pub(crate) keep_runs: usize,
    /// Also write the completed run as a baton `.c1z` file here (a file already there keeps its
    /// previous sync, for `baton diff`).
    #[arg(id = "cli-c1z", value_name = "C1Z", long = "c1z")]
    pub(crate) c1z: Option<PathBuf>,
    /// Write the summary as JSON to this file.
    #[arg(
        id = "cli-summary-json",
        value_name = "SUMMARY_JSON",
        long = "summary-json"
    )]
    pub(crate) summary_json: Option<PathBuf>,
}

/// Flags of `serve`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServeArgs {
    /// Where syncs are stored: a SQLite file, or a PostgreSQL database shared with other
    /// replicas (`postgres://user@host/db`); an interrupted sync in it is resumed.
    #[arg(id = "cli-out", value_name = "OUT", long = "out")]
    pub(crate) out: crate::StoreTarget,
    /// Time between scheduled syncs, such as 30m, 1h or 90s.
    #[arg(id = "cli-interval", value_name = "INTERVAL", long = "interval", default_value = "1h", value_parser = parse_interval)]
    pub(crate) interval: Duration,
    /// Address to listen on.
    #[arg(
        id = "cli-listen",
        value_name = "LISTEN",
        long = "listen",
        default_value = "127.0.0.1:8080"
    )]
    pub(crate) listen: SocketAddr,
    /// Serve /v1 without authentication (SERVICE_TOKEN unset). Only on a loopback address.
    #[arg(id = "cli-insecure-no-auth", long = "insecure-no-auth")]
    pub(crate) insecure_no_auth: bool,
    /// Sync into a store whose latest completed run is of another tenant (or other settings).
    #[arg(id = "cli-switch-tenant", long = "switch-tenant")]
    pub(crate) switch_tenant: bool,
    /// Completed runs kept in the store (0 keeps every run).
    #[arg(
        id = "cli-keep-runs",
        value_name = "KEEP_RUNS",
        long = "keep-runs",
        default_value_t = 2
    )]
    pub(crate) keep_runs: usize,
    /// Requests in flight at once during a sync.
    #[arg(
        id = "cli-workers",
        value_name = "WORKERS",
        long = "workers",
        default_value_t = 8
    )]
    pub(crate) workers: usize,
    /// ConductorOne client id: run as a ConductorOne self-hosted connector (service mode)
    /// instead of serving /v1; /livez, /readyz and /metrics stay on --listen.
    #[arg(
        id = "cli-client-id",
        long = "client-id",
        value_name = "CLIENT_ID",
        env = "BATON_CLIENT_ID",
        requires = "cli-client-secret"
    )]
    pub(crate) client_id: Option<String>,
    /// ConductorOne client secret (`secret-token:…`); prefer the environment.
    #[arg(
        id = "cli-client-secret",
        long = "client-secret",
        env = "BATON_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub(crate) client_secret: Option<secrecy::SecretString>,
    /// In service mode, run grant, revoke, account-creation and action tasks (without it they
    /// are refused).
    #[arg(
        id = "cli-provisioning",
        short = 'p',
        long = "provisioning",
        env = "BATON_PROVISIONING",
        requires = "cli-client-id"
    )]
    pub(crate) provisioning: bool,
    /// Sync once, write the `.c1z` here and exit (baton's one-shot mode).
    #[arg(
        id = "cli-file",
        value_name = "FILE",
        short = 'f',
        long = "file",
        conflicts_with = "cli-client-id"
    )]
    pub(crate) file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) health: HealthServer,
}

/// baton's health-check server, in service mode.
#[derive(Debug, Clone, Args)]
pub(crate) struct HealthServer {
    /// In service mode, also serve baton's health checks (/health, /ready, /live) on
    /// --health-check-bind-address:--health-check-port.
    #[arg(id = "cli-enabled", long = "health-check", env = "BATON_HEALTH_CHECK")]
    pub(crate) enabled: bool,
    #[command(flatten)]
    pub(crate) at: HealthAddress,
}

/// Where baton's health checks are served.
#[derive(Debug, Clone, Args)]
pub(crate) struct HealthAddress {
    /// The port of baton's health checks.
    #[arg(
        id = "cli-port",
        value_name = "PORT",
        long = "health-check-port",
        env = "BATON_HEALTH_CHECK_PORT",
        default_value_t = 8081
    )]
    pub(crate) port: u16,
    /// The address baton's health checks listen on.
    #[arg(
        id = "cli-bind-address",
        value_name = "BIND_ADDRESS",
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
    #[arg(
        id = "cli-endpoint",
        value_name = "ENDPOINT",
        long = "endpoint",
        value_enum,
        default_value = "health"
    )]
    pub(crate) endpoint: Endpoint,
    /// Seconds to wait for the answer.
    #[arg(
        id = "cli-timeout",
        value_name = "TIMEOUT",
        long = "timeout",
        default_value_t = 5
    )]
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
    #[arg(id = "cli-journal", long = "journal", value_name = "FILE")]
    pub(crate) journal: Option<PathBuf>,
}

/// The words of `grant` and `revoke`.
#[derive(Debug, Args)]
pub(crate) struct GrantWords {
    #[command(flatten)]
    pub(crate) journal: JournalArg,
    /// What to grant and to whom.
    #[arg(id = "cli-words", required = true, num_args = 1.., value_name = "WORDS")]
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
        id = "cli-fields",
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
        default: DefaultCommand,
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
                DefaultCommand::Sync => Action::Sync(SyncArgs::from_arg_matches(matches)?),
                DefaultCommand::Serve => Action::Serve(ServeArgs::from_arg_matches(matches)?),
                DefaultCommand::None => {
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
    default: DefaultCommand,
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
            s.mut_arg("cli-out", |a| a.default_value(out).required(false))
        });
    }
    for sub in ["grant", "revoke"] {
        command = command.mut_subcommand(sub, |s| s.mut_arg("cli-words", |a| a.help(grant_help)));
    }
    command = match default {
        DefaultCommand::None => command.subcommand_required(true),
        DefaultCommand::Sync => SyncArgs::augment_args(command),
        DefaultCommand::Serve => ServeArgs::augment_args(command),
    };
    if default != DefaultCommand::None {
        command = command
            .mut_arg("cli-out", |a| a.default_value(out).required(false))
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

/// The long and short names a built-in argument takes anywhere in the command line.
fn built_in_names() -> (
    std::collections::BTreeSet<String>,
    std::collections::BTreeSet<char>,
) {
    let mut command = clap::Command::new("built-in");
    command = Global::augment_args(command);
    command = SyncArgs::augment_args(command);
    command = Command::augment_subcommands(command);
    let mut longs = std::collections::BTreeSet::new();
    let mut shorts = std::collections::BTreeSet::new();
    let mut add = |c: &clap::Command| {
        for arg in c.get_arguments() {
            longs.extend(arg.get_long().map(str::to_owned));
            shorts.extend(arg.get_short());
        }
    };
    add(&command);
    for sub in command.get_subcommands() {
        add(sub);
    }
    // clap's own.
    longs.extend(["help".to_owned(), "version".to_owned()]);
    shorts.extend(['h', 'V']);
    (longs, shorts)
}

/// The connector's flags that take a name or an id a built-in argument has: they would be
/// read as the built-in one (or the built-in one as theirs). Empty when there are none.
pub(crate) fn collisions<C: ConnectorCli>() -> Vec<String> {
    let (longs, shorts) = built_in_names();
    let connector = C::Args::augment_args(clap::Command::new("connector"));
    let mut found = Vec::new();
    for arg in connector.get_arguments() {
        let id = arg.get_id().as_str();
        if id.starts_with("cli-") {
            found.push(format!(
                "the argument id `{id}` (ids starting with `cli-` are the CLI's)"
            ));
        }
        if let Some(long) = arg.get_long().filter(|l| longs.contains(*l)) {
            found.push(format!("--{long}"));
        }
        if let Some(short) = arg.get_short().filter(|s| shorts.contains(s)) {
            found.push(format!("-{short}"));
        }
    }
    found
}
