//! `grant`, `revoke`, `create-account` and `action`: each outcome one line (or one JSON object),
//! each change one audit event, and a write in flight never cut by a signal.

use connector_sdk::{
    Audit, CallContext, CreateAccountOutcome, GrantRequest, Registry, RevokeOutcome, RevokeRequest,
};
use serde_json::{Map, Value, json};

use crate::command::{JournaledWrite, Write};
use crate::{CliError, ConnectorCli, Ctx, OpenFor, Outcome, fields, printable};

/// A write with its words read: what runs, and its audit event.
enum Request {
    Grant(GrantRequest),
    Revoke(RevokeRequest),
    CreateAccount(Map<String, Value>),
    Action(String, Map<String, Value>),
}

pub(crate) async fn run<C: ConnectorCli>(
    ctx: &Ctx<'_, C>,
    JournaledWrite { write, journal }: JournaledWrite,
) -> Result<String, CliError> {
    // Grant words are read before the connector is opened: a typo contacts nobody.
    let grant = match &write {
        Write::Grant(words) | Write::Revoke(words) => Some(ctx.connector.grant_words(words)?),
        _ => None,
    };
    let journal = match journal {
        Some(path) => path,
        None => default_journal(ctx.name)?,
    };
    let opened = ctx.open(OpenFor::Write).await?;
    let registry = opened
        .registry
        .clone()
        .with_journal(crate::StoreTarget::File(journal.clone()).open().await?);
    let actor = os_user();
    let context = CallContext::default().with_actor(actor.clone());
    // Interrupted writes are finished before this one; one that cannot be is reported, and a
    // write to its principal is refused by the registry.
    let report = registry.repair().await?;
    for failed in &report.failed {
        eprintln!(
            "{}: an interrupted {} could not be repaired: {}",
            ctx.name,
            failed.intent.intent,
            connector_sdk::error_chain(&failed.error)
        );
    }
    for left in &report.left_alone {
        eprintln!(
            "{}: an interrupted {} in {} was left alone: {}",
            ctx.name,
            left.intent.intent,
            journal.display(),
            left.reason
        );
    }
    let (request, audit) = match (write, grant) {
        (Write::Grant(_), Some((entitlement, principal))) => (
            Request::Grant(
                GrantRequest::new(principal.clone(), entitlement.clone())
                    .with_context(context.clone()),
            ),
            Audit::new("cli", "grant")
                .with_entitlement(&entitlement)
                .with_principal(&principal),
        ),
        (Write::Revoke(_), Some((entitlement, principal))) => (
            Request::Revoke(
                RevokeRequest::new(connector_sdk::Grant::new(
                    entitlement.clone(),
                    principal.clone(),
                ))
                .with_context(context.clone()),
            ),
            Audit::new("cli", "revoke")
                .with_entitlement(&entitlement)
                .with_principal(&principal),
        ),
        (Write::CreateAccount(words), _) => {
            let schema = registry
                .manifest()
                .account_creation
                .ok_or_else(|| CliError::usage("the connector does not create accounts"))?
                .fields;
            (
                Request::CreateAccount(fields::read("create-account", &schema, &words)?),
                Audit::new("cli", "create_account"),
            )
        }
        (Write::Action(name, words), _) => {
            let actions = registry.actions();
            let Some(schema) = actions.iter().find(|a| a.name == name) else {
                let names: Vec<&str> = actions.iter().map(|a| a.name.as_str()).collect();
                return Err(CliError::usage(format!(
                    "invalid value '{}' for NAME: the actions are {}",
                    printable(&name),
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                )));
            };
            let arguments = fields::read(&format!("action {name}"), &schema.arguments, &words)?;
            let audit = Audit::new("cli", "action").with_action(&name);
            (Request::Action(name, arguments), audit)
        }
        (Write::Grant(_) | Write::Revoke(_), None) => {
            return Err(CliError::usage("no grant named"));
        }
    };
    let mut audit = audit.with_actor(actor);
    // The write runs in a task of its own, so Ctrl-C or SIGTERM cannot cut it in half: the
    // signal is acknowledged and the write finishes (or restores) before the program exits.
    let connector = ctx.connector;
    let mut operation = tokio::spawn(execute(registry, request, context));
    let result = tokio::select! {
        result = &mut operation => result,
        () = crate::shutdown_signal() => {
            eprintln!("{}: interrupted; finishing the write in flight", ctx.name);
            operation.await
        }
    };
    let done = result.map_err(|e| CliError::failed("internal error").with_source(e))??;
    let outcome = match done {
        Done::Ready(outcome) => outcome,
        Done::Action(name, result) => connector.action_outcome(&name, &result),
    };
    let word = outcome.json["outcome"].as_str().unwrap_or("done");
    // An account created or an action's subject: the outcome names the principal.
    if let Some(principal) = outcome.json["principal"]
        .as_str()
        .and_then(|p| p.parse::<connector_sdk::ResourceId>().ok())
    {
        audit = audit.with_principal(&principal);
    }
    audit.succeeded(word, outcome.changed);
    drop(opened);
    Ok(if ctx.json {
        format!("{}\n", outcome.json)
    } else {
        format!("{}\n", outcome.line)
    })
}

/// What a write came back with.
enum Done {
    Ready(Outcome),
    Action(String, connector_sdk::ActionResult),
}

async fn execute(
    registry: Registry,
    request: Request,
    context: CallContext,
) -> Result<Done, CliError> {
    Ok(Done::Ready(match request {
        Request::Grant(request) => {
            let (entitlement, principal) = (
                request.entitlement.to_string(),
                request.principal.to_string(),
            );
            let granted = registry.grant(request).await?.is_granted();
            let (word, key) = if granted {
                ("granted", "granted")
            } else {
                ("already granted", "already_granted")
            };
            Outcome {
                line: format!("{word} {entitlement} to {principal}"),
                json: json!({"outcome": key, "entitlement": entitlement, "principal": principal}),
                changed: granted,
            }
        }
        Request::Revoke(request) => {
            let (entitlement, principal) = (
                request.grant.entitlement.to_string(),
                request.grant.principal.to_string(),
            );
            let revoked = matches!(registry.revoke(request).await?, RevokeOutcome::Revoked);
            let (word, key) = if revoked {
                ("revoked", "revoked")
            } else {
                ("already revoked", "already_revoked")
            };
            Outcome {
                line: format!("{word} {entitlement} from {principal}"),
                json: json!({"outcome": key, "entitlement": entitlement, "principal": principal}),
                changed: revoked,
            }
        }
        Request::CreateAccount(fields) => {
            let (word, key, account) = match registry.create_account(fields, context).await? {
                CreateAccountOutcome::Created(account) => ("created", "created", account),
                CreateAccountOutcome::AlreadyExists(account) => {
                    ("already exists", "already_exists", account)
                }
                other => {
                    return Err(CliError::failed(format!(
                        "unexpected account outcome {other:?}"
                    )));
                }
            };
            Outcome {
                line: format!(
                    "{word} {} ({})",
                    account.id,
                    printable(&account.display_name)
                ),
                json: json!({"outcome": key, "principal": account.id.to_string(),
                    "display_name": account.display_name}),
                changed: key == "created",
            }
        }
        Request::Action(name, arguments) => {
            let result = registry.run_action(&name, arguments, context).await?;
            return Ok(Done::Action(name, result));
        }
    }))
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

/// The journal of a program called `name` when `--journal` is not given:
/// `$XDG_STATE_HOME/NAME/journal.db`, else `$HOME/.local/state/NAME/journal.db`; the folder is
/// created private to the user.
fn default_journal(name: &str) -> Result<std::path::PathBuf, CliError> {
    let variable = |key: &str| {
        std::env::var_os(key)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    };
    let state = variable("XDG_STATE_HOME")
        .or_else(|| variable("HOME").map(|home| home.join(".local").join("state")))
        .ok_or_else(|| {
            CliError::usage(
                "neither XDG_STATE_HOME nor HOME is set: name the write journal with --journal FILE"
                    ,
            )
        })?;
    let dir = state.join(name);
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(&dir)
        .map_err(|e| CliError::failed(format!("cannot create {}", dir.display())).with_source(e))?;
    Ok(dir.join("journal.db"))
}
