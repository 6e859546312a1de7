//! Change access in a Coupa tenant (or a simulated one, by flag): grant, revoke, create
//! accounts, run actions. Each outcome is one line (`--json`: one JSON object).
//!
//! ```text
//! cargo run --example coupa-provision -- grant group 7 42
//! cargo run --example coupa-provision -- revoke role 3 42
//! cargo run --example coupa-provision -- create-account --login kat --email kat@example.com \
//!     --first-name Katherine --last-name Johnson --license expense-user
//! cargo run --example coupa-provision -- action disable_user --user-id 42
//! cargo run --example coupa-provision -- --sim-fixture grant group 11 3
//! ```
//!
//! Credentials come from the environment as for `coupa-sync`. Without them the program refuses
//! to run (exit 2) unless `--sim` or `--sim-fixture` asks for a simulated tenant.
//!
//! Exit codes: 0 done or already so, 1 failed, 2 usage or configuration. Ctrl-C while a write is
//! in flight lets it finish (or restore) before the program exits.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use connector_sdk::{
    Audit, CreateAccountOutcome, EntitlementId, Error, Grant, GrantOutcome, Registry, ResourceId,
    RevokeOutcome,
};
use coupa_client::License;
use coupa_connector::{CoupaConnector, ids};
use examples::cli::{CliError, TenantArgs, WithoutCredentials, coupa_id, one_line};
use serde_json::{Map, Value, json};

#[derive(Debug, Parser)]
#[command(name = "coupa-provision")]
struct Args {
    #[command(flatten)]
    tenant: TenantArgs,
    /// Print each outcome as one JSON object.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "snake_case")]
enum Kind {
    Group,
    Role,
    License,
    AccountGroup,
    ContentGroup,
}

impl Kind {
    /// The entitlement `id` names, validated: a canonical id, or a known license key.
    fn entitlement(self, id: &str) -> Result<EntitlementId, CliError> {
        let member = |resource_type: &str| -> Result<EntitlementId, CliError> {
            let id = coupa_id(id, resource_type)?;
            Ok(ids::member_of(resource_type, id))
        };
        match self {
            Self::Group => member(ids::GROUP),
            Self::Role => member(ids::ROLE),
            Self::AccountGroup => member(ids::ACCOUNT_GROUP),
            Self::ContentGroup => member(ids::CONTENT_GROUP),
            Self::License => License::ALL
                .iter()
                .find(|l| l.key() == id)
                .map(ids::license)
                .ok_or_else(|| {
                    let known: Vec<&str> = License::ALL.iter().map(License::key).collect();
                    CliError::Usage(format!(
                        "unknown license {id:?}; known: {}",
                        known.join(", ")
                    ))
                }),
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "snake_case")]
enum ActionName {
    EnableUser,
    DisableUser,
}

/// The fields of `create-account`.
#[derive(Debug, clap::Args)]
struct NewAccount {
    #[arg(long)]
    login: String,
    #[arg(long)]
    email: String,
    #[arg(long)]
    first_name: String,
    #[arg(long)]
    last_name: String,
    #[arg(long)]
    employee_number: Option<String>,
    #[arg(long)]
    sso_identifier: Option<String>,
    #[arg(long)]
    authentication_method: Option<String>,
    #[arg(long)]
    default_locale: Option<String>,
    #[arg(long)]
    manager_login: Option<String>,
    #[arg(long)]
    default_currency: Option<String>,
    /// A license flag to grant, such as expense-user (repeatable)
    #[arg(long = "license")]
    licenses: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Give a user membership (or a license).
    Grant {
        /// group, role, license, account_group or content_group
        kind: Kind,
        /// The group, role, account group or content group id, or the license key
        resource_id: String,
        /// The Coupa user id
        user_id: String,
    },
    /// Take a membership (or a license) away.
    Revoke {
        /// group, role, license, account_group or content_group
        kind: Kind,
        /// The group, role, account group or content group id, or the license key
        resource_id: String,
        /// The Coupa user id
        user_id: String,
    },
    /// Create a user.
    CreateAccount(Box<NewAccount>),
    /// Run `enable_user` or `disable_user`.
    Action {
        /// enable_user or disable_user
        name: ActionName,
        #[arg(long)]
        user_id: String,
    },
}

/// One outcome, for people and for scripts.
struct Outcome {
    line: String,
    json: Value,
    /// Whether access changed (for the audit trail).
    changed: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // Standard error carries the audit trail (one JSON line per change) and, with RUST_LOG,
    // more; standard output carries the outcome.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| format!("{}=info", connector_sdk::AUDIT_TARGET).into());
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let json = args.json;
    // The operation runs in a task of its own, so Ctrl-C or SIGTERM cannot cut a write in half:
    // the signal is acknowledged and the write finishes (or restores) before the program exits.
    let mut operation = tokio::spawn(run(args));
    let result = tokio::select! {
        result = &mut operation => result,
        () = examples::cli::shutdown_signal() => {
            eprintln!("coupa-provision: interrupted; finishing the write in flight");
            operation.await
        }
    };
    let result = result.unwrap_or_else(|e| Err(CliError::Failed(format!("internal error: {e}"))));
    match result {
        Ok(outcome) => {
            if json {
                println!("{}", outcome.json);
            } else {
                println!("{}", outcome.line);
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            if json {
                let kind = match error {
                    CliError::Usage(_) => "usage",
                    CliError::Failed(_) => "failed",
                };
                println!(
                    "{}",
                    json!({"outcome": "error", "error": {"kind": kind, "message": error.message()}})
                );
            }
            eprintln!("coupa-provision: {}", error.message());
            error.exit_code()
        }
    }
}

/// A failed operation: argument errors are usage (2), everything else failed (1).
fn failed(error: Error) -> CliError {
    match error {
        Error::Argument(_) | Error::UnknownAction(_) | Error::Unsupported { .. } => {
            CliError::Usage(one_line(&error))
        }
        _ => CliError::Failed(one_line(&error)),
    }
}

async fn run(args: Args) -> Result<Outcome, CliError> {
    // Everything the command names is checked before any tenant is contacted.
    let request = Request::parse(args.command)?;
    let target = args.tenant.resolve(WithoutCredentials::Refuse).await?;
    let connector = CoupaConnector::new(target.connector_config())
        .map_err(|e| CliError::Usage(one_line(&e)))?;
    let registry = connector.registry();
    let audit = request.audit();
    let outcome = request.run(&registry).await?;
    let word = outcome.json["outcome"].as_str().unwrap_or("done");
    audit.succeeded(word, outcome.changed);
    Ok(outcome)
}

/// Who runs the program, as the audit trail names them.
fn os_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .map_or_else(
            || "unknown user".to_owned(),
            |user| format!("OS user {user}"),
        )
}

/// A validated command.
enum Request {
    Grant(EntitlementId, ResourceId),
    Revoke(Grant),
    CreateAccount(Map<String, Value>),
    Action(ActionName, i64),
}

impl Request {
    /// The audit event of this request, its outcome still to come.
    fn audit(&self) -> Audit {
        let event = match self {
            Self::Grant(entitlement, user) => Audit::new("cli", "grant")
                .with_entitlement(entitlement)
                .with_principal(user),
            Self::Revoke(grant) => Audit::new("cli", "revoke")
                .with_entitlement(&grant.entitlement)
                .with_principal(&grant.principal),
            Self::CreateAccount(_) => Audit::new("cli", "create_account"),
            Self::Action(name, user) => Audit::new("cli", "action")
                .with_action(match name {
                    ActionName::EnableUser => "enable_user",
                    ActionName::DisableUser => "disable_user",
                })
                .with_principal(&ids::user(*user)),
        };
        event.with_actor(os_user())
    }

    fn parse(command: Command) -> Result<Self, CliError> {
        let user = |id: &str| coupa_id(id, "user").map(ids::user);
        Ok(match command {
            Command::Grant {
                kind,
                resource_id,
                user_id,
            } => Self::Grant(kind.entitlement(&resource_id)?, user(&user_id)?),
            Command::Revoke {
                kind,
                resource_id,
                user_id,
            } => Self::Revoke(Grant::new(kind.entitlement(&resource_id)?, user(&user_id)?)),
            Command::CreateAccount(account) => Self::CreateAccount(account_fields(*account)),
            Command::Action { name, user_id } => Self::Action(name, coupa_id(&user_id, "user")?),
        })
    }

    async fn run(self, registry: &Registry) -> Result<Outcome, CliError> {
        Ok(match self {
            Self::Grant(entitlement, user) => {
                let outcome = registry
                    .grant(connector_sdk::GrantRequest::new(
                        user.clone(),
                        entitlement.clone(),
                    ))
                    .await
                    .map_err(failed)?;
                let (word, key) = match outcome {
                    GrantOutcome::Granted => ("granted", "granted"),
                    _ => ("already granted", "already_granted"),
                };
                Outcome {
                    changed: matches!(outcome, GrantOutcome::Granted),
                    line: format!("{word} {entitlement} to {user}"),
                    json: json!({"outcome": key, "entitlement": entitlement.to_string(),
                        "principal": user.to_string()}),
                }
            }
            Self::Revoke(grant) => {
                let outcome = registry
                    .revoke(connector_sdk::RevokeRequest::new(grant.clone()))
                    .await
                    .map_err(failed)?;
                let (word, key) = match outcome {
                    RevokeOutcome::Revoked => ("revoked", "revoked"),
                    _ => ("already revoked", "already_revoked"),
                };
                Outcome {
                    changed: matches!(outcome, RevokeOutcome::Revoked),
                    line: format!("{word} {} from {}", grant.entitlement, grant.principal),
                    json: json!({"outcome": key, "entitlement": grant.entitlement.to_string(),
                        "principal": grant.principal.to_string()}),
                }
            }
            Self::CreateAccount(fields) => {
                let outcome = registry
                    .create_account(fields, connector_sdk::CallContext::default())
                    .await
                    .map_err(failed)?;
                let (word, key, user) = match outcome {
                    CreateAccountOutcome::Created(user) => ("created", "created", user),
                    CreateAccountOutcome::AlreadyExists(user) => {
                        ("already exists", "already_exists", user)
                    }
                    other => {
                        return Err(CliError::Failed(format!(
                            "unexpected account outcome {other:?}"
                        )));
                    }
                };
                Outcome {
                    changed: key == "created",
                    line: format!("{word} {} ({})", user.id, user.display_name),
                    json: json!({"outcome": key, "principal": user.id.to_string(),
                        "display_name": user.display_name}),
                }
            }
            Self::Action(name, user) => {
                let (action, done) = match name {
                    ActionName::EnableUser => ("enable_user", "enabled"),
                    ActionName::DisableUser => ("disable_user", "disabled"),
                };
                let mut arguments = Map::new();
                arguments.insert("user_id".into(), Value::String(user.to_string()));
                let out = registry
                    .run_action(action, arguments, connector_sdk::CallContext::default())
                    .await
                    .map_err(failed)?;
                let changed = out.get("changed").and_then(Value::as_bool).ok_or_else(|| {
                    CliError::Failed(format!("`{action}` answered without `changed`: {out:?}"))
                })?;
                let principal = ids::user(user);
                let (line, key) = if changed {
                    (format!("{done} {principal}"), done.to_owned())
                } else {
                    (
                        format!("already {done} {principal}"),
                        format!("already_{done}"),
                    )
                };
                Outcome {
                    line,
                    json: json!({"outcome": key, "principal": principal.to_string()}),
                    changed,
                }
            }
        })
    }
}

fn account_fields(account: NewAccount) -> Map<String, Value> {
    let NewAccount {
        login,
        email,
        first_name,
        last_name,
        employee_number,
        sso_identifier,
        authentication_method,
        default_locale,
        manager_login,
        default_currency,
        licenses,
    } = account;
    let mut fields = Map::new();
    for (key, value) in [
        ("login", Some(login)),
        ("email", Some(email)),
        ("first_name", Some(first_name)),
        ("last_name", Some(last_name)),
        ("employee_number", employee_number),
        ("sso_identifier", sso_identifier),
        ("authentication_method", authentication_method),
        ("default_locale", default_locale),
        ("manager_login", manager_login),
        ("default_currency", default_currency),
    ] {
        if let Some(value) = value {
            fields.insert(key.into(), Value::String(value));
        }
    }
    if !licenses.is_empty() {
        fields.insert("licenses".into(), json!(licenses));
    }
    fields
}
