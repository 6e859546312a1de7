//! The Coupa connector on `connector_cli`: its flags (the tenant, real or simulated by flag),
//! the short grant form (`group 11 3`), and how `enable_user` and `disable_user` read. The
//! `coupa-sync`, `coupa-provision` and `coupa-service` binaries are this with another default
//! subcommand.

use async_trait::async_trait;
use connector_cli::{CliError, ConnectorCli, OpenFor, Opened, Outcome};
use connector_sdk::{ActionResult, EntitlementId, ResourceId};
use coupa_client::License;
use coupa_connector::{CoupaConnector, ids};
use serde_json::json;

use crate::tenant::{TenantArgs, WithoutCredentials, coupa_id, one_line};

/// The Coupa connector, for `connector_cli::Cli`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Coupa;

/// The Coupa connector's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct CoupaArgs {
    #[command(flatten)]
    tenant: TenantArgs,
    /// Skip account groups (no `core.accounting.read` requested).
    #[arg(long)]
    no_account_groups: bool,
}

#[async_trait]
impl ConnectorCli for Coupa {
    type Args = CoupaArgs;

    fn version(&self) -> &'static str {
        coupa_connector::VERSION
    }

    /// A sync (or `capabilities`) without credentials demonstrates on a simulated tenant and
    /// says so; a write or a service refuses to run without a named tenant.
    async fn open(&self, args: &CoupaArgs, purpose: OpenFor) -> Result<Opened, CliError> {
        let demo = matches!(purpose, OpenFor::Sync | OpenFor::Describe);
        let without = if demo {
            WithoutCredentials::Demo
        } else {
            WithoutCredentials::Refuse
        };
        let target = args.tenant.resolve(without).await?;
        let config = target
            .connector_config()
            .with_account_groups(!args.no_account_groups);
        let connector = CoupaConnector::new(config).map_err(|e| CliError::usage(one_line(&e)))?;
        let opened = Opened::new(connector.registry());
        #[cfg(feature = "sim")]
        let opened = match target.sim {
            Some(sim) => simulated(opened, sim, args, purpose),
            None => opened,
        };
        Ok(opened)
    }

    /// `KIND RESOURCE_ID USER_ID` (`group 11 3`, `approver 11 3`, `license expense-user 3`), or
    /// the SDK's `ENTITLEMENT PRINCIPAL`.
    fn grant_words(&self, words: &[String]) -> Result<(EntitlementId, ResourceId), CliError> {
        match words {
            [kind, resource, user] => Ok((
                entitlement(kind, resource)?,
                ids::user(coupa_id(user, "user")?),
            )),
            _ => connector_cli::default_grant_words(words),
        }
    }

    fn grant_help(&self) -> &'static str {
        "KIND RESOURCE_ID USER_ID: KIND is group, approver (of a user group), role, license, \
         account_group or content_group; RESOURCE_ID its Coupa id (a license: its key, such as \
         expense-user); USER_ID the Coupa user id. Or ENTITLEMENT PRINCIPAL: \
         group:11:member user:3, group:11:approver user:3"
    }

    /// `disabled user:2`, `already enabled user:2`.
    fn action_outcome(&self, name: &str, result: &ActionResult) -> Outcome {
        let fields = (
            result.get("user_id").and_then(|v| v.as_str()),
            result.get("status").and_then(|v| v.as_str()),
            result.get("changed").and_then(serde_json::Value::as_bool),
        );
        let (Some(user), Some(status), Some(changed)) = fields else {
            return connector_cli::default_action_outcome(name, result);
        };
        let principal = format!("{}:{}", ids::USER, connector_cli::printable(user));
        let status = connector_cli::printable(status);
        let (line, key) = if changed {
            (format!("{status} {principal}"), status.to_string())
        } else {
            (
                format!("already {status} {principal}"),
                format!("already_{status}"),
            )
        };
        Outcome {
            line,
            json: json!({"outcome": key, "principal": principal}),
            changed,
        }
    }
}

/// The entitlement `KIND RESOURCE_ID` names, validated: a canonical id, or a known license key.
fn entitlement(kind: &str, id: &str) -> Result<EntitlementId, CliError> {
    const KINDS: [&str; 6] = [
        ids::GROUP,
        ids::APPROVER,
        ids::ROLE,
        ids::LICENSE,
        ids::ACCOUNT_GROUP,
        ids::CONTENT_GROUP,
    ];
    match kind {
        ids::LICENSE => License::ALL
            .iter()
            .find(|l| l.key() == id)
            .map(ids::license)
            .ok_or_else(|| {
                let known: Vec<&str> = License::ALL.iter().map(License::key).collect();
                CliError::usage(format!(
                    "unknown license {:?}; known: {}",
                    connector_cli::printable(id),
                    known.join(", ")
                ))
            }),
        ids::APPROVER => Ok(ids::approver_of(coupa_id(id, ids::GROUP)?)),
        kind if KINDS.contains(&kind) => Ok(ids::member_of(kind, coupa_id(id, kind)?)),
        other => Err(CliError::usage(format!(
            "invalid value '{}' for KIND: the kinds are {}",
            connector_cli::printable(other),
            KINDS.join(", ")
        ))),
    }
}

/// `opened`, on the simulator `sim`, with a notice that says so.
#[cfg(feature = "sim")]
fn simulated(
    opened: Opened,
    sim: coupa_sim::CoupaSim,
    args: &CoupaArgs,
    purpose: OpenFor,
) -> Opened {
    let why = if args.tenant.simulated() {
        "as asked"
    } else {
        "no Coupa credentials set"
    };
    let what = if args.tenant.simulated.sim_fixture {
        "fixture tenant".to_owned()
    } else {
        format!("tenant of {} users", args.tenant.simulated.sim_users)
    };
    let verb = match purpose {
        OpenFor::Serve => "serving",
        OpenFor::Write => "changing",
        _ => "syncing",
    };
    opened
        .with_notice(format!(
            "{why}; {verb} a SIMULATED {what} at {} (not Coupa)",
            sim.uri()
        ))
        .with_guard(sim)
}
