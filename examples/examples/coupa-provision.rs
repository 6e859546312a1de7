//! Change access in a Coupa tenant (or a simulated one): grant, revoke, create accounts, run
//! actions. Each command prints its outcome in one line.
//!
//! ```text
//! cargo run --example coupa-provision -- grant group 7 42
//! cargo run --example coupa-provision -- revoke role 3 42
//! cargo run --example coupa-provision -- create-account --login kat --email kat@example.com \
//!     --first-name Katherine --last-name Johnson --license expense-user
//! cargo run --example coupa-provision -- action disable_user --user-id 42
//! ```
//!
//! Credentials come from the environment as for `coupa-sync`; with none, a simulated tenant is
//! started (`--sim-fixture` for the small hand-written one).

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use connector_sdk::{
    CreateAccountOutcome, EntitlementId, Grant, GrantOutcome, ResourceId, RevokeOutcome,
};
use coupa_connector::{ConnectorConfig, CoupaConnector};
use examples::cli::{TenantArgs, one_line};
use serde_json::{Map, Value, json};

#[derive(Debug, Parser)]
#[command(name = "coupa-provision")]
struct Args {
    #[command(flatten)]
    tenant: TenantArgs,
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
    fn entitlement(self, id: &str) -> EntitlementId {
        let (resource_type, slug) = match self {
            Self::Group => ("group", "member"),
            Self::Role => ("role", "member"),
            Self::License => ("license", "assigned"),
            Self::AccountGroup => ("account_group", "member"),
            Self::ContentGroup => ("content_group", "member"),
        };
        EntitlementId::new(ResourceId::new(resource_type, id), slug)
    }
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
        name: String,
        #[arg(long)]
        user_id: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("coupa-provision: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<String, String> {
    let target = args.tenant.resolve().await?;
    let connector =
        CoupaConnector::new(ConnectorConfig::new(target.config)).map_err(|e| one_line(&e))?;
    let registry = connector.registry().map_err(|e| one_line(&e))?;
    let err = |e: connector_sdk::Error| one_line(&e);
    Ok(match args.command {
        Command::Grant {
            kind,
            resource_id,
            user_id,
        } => {
            let entitlement = kind.entitlement(&resource_id);
            let user = ResourceId::new("user", user_id);
            match registry.grant(&user, &entitlement).await.map_err(err)? {
                GrantOutcome::Granted => format!("granted {entitlement} to {user}"),
                _ => format!("already granted {entitlement} to {user}"),
            }
        }
        Command::Revoke {
            kind,
            resource_id,
            user_id,
        } => {
            let grant = Grant::new(
                kind.entitlement(&resource_id),
                ResourceId::new("user", user_id),
            );
            match registry.revoke(&grant).await.map_err(err)? {
                RevokeOutcome::Revoked => format!("revoked {}", grant.id()),
                _ => format!("already revoked {}", grant.id()),
            }
        }
        Command::CreateAccount(account) => {
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
            } = *account;
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
            match registry.create_account(fields).await.map_err(err)? {
                CreateAccountOutcome::Created(user) => {
                    format!("created {} ({})", user.id, user.display_name)
                }
                CreateAccountOutcome::AlreadyExists(user) => {
                    format!("exists {} ({})", user.id, user.display_name)
                }
                other => format!("{other:?}"),
            }
        }
        Command::Action { name, user_id } => {
            let mut arguments = Map::new();
            arguments.insert("user_id".into(), Value::String(user_id));
            let out = registry.run_action(&name, arguments).await.map_err(err)?;
            let status = out.get("status").and_then(Value::as_str).unwrap_or("done");
            let user = out
                .get("user_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let changed = out.get("changed").and_then(Value::as_bool).unwrap_or(true);
            if changed {
                format!("{status} user:{user}")
            } else {
                format!("{status} user:{user} (already)")
            }
        }
    })
}
