//! The actions `enable_user` and `disable_user`.

use std::sync::Arc;

use async_trait::async_trait;
use connector_sdk::{
    Action, ActionRequest, ActionResult, ActionSchema, ConnectorError, FieldKind, FieldSpec,
};

use super::converge::{Active, Converged, Target};
use super::parse_id;
use crate::session::Session;

/// `enable_user` (`active: true`) or `disable_user` (`active: false`).
pub(crate) struct SetActive {
    pub(crate) session: Arc<Session>,
    pub(crate) active: bool,
}

impl SetActive {
    fn name(&self) -> &'static str {
        if self.active {
            "enable_user"
        } else {
            "disable_user"
        }
    }
}

fn status(active: bool) -> &'static str {
    if active { "enabled" } else { "disabled" }
}

/// What `enable_user` and `disable_user` answer.
#[derive(serde::Serialize)]
struct Done {
    user_id: String,
    status: &'static str,
    changed: bool,
}

#[async_trait]
impl Action for SetActive {
    fn schema(&self) -> ActionSchema {
        let what = if self.active { "Enables" } else { "Disables" };
        ActionSchema::new(
            self.name(),
            format!("{what} a Coupa user (sets `active`); idempotent"),
            vec![FieldSpec::required(
                "user_id",
                FieldKind::String,
                "The Coupa user id, a positive integer as a string",
            )],
        )
    }

    async fn run(&self, request: ActionRequest) -> Result<ActionResult, ConnectorError> {
        let arguments = &request.arguments;
        let text = arguments.str("user_id").unwrap_or_default();
        let user = parse_id(text, "user").map_err(|_| {
            ConnectorError::from(arguments.invalid(
                "user_id",
                format!("user id {text:?} is not a positive integer"),
            ))
        })?;
        let client = self.session.writer(false).await?.clone();
        let _held = self.session.locks.lock(user).await;
        let target = Target {
            client,
            user,
            attribute: Active,
        };
        let active = self.active;
        let changed = match target.converge(|now| *now == active, |_| active).await? {
            Converged::Already => false,
            Converged::Changed => true,
            Converged::NotApplied { answer, .. } => {
                return Err(ConnectorError::fatal(format!(
                    "Coupa did not {} user {user}: `active` reads {answer}",
                    if active { "enable" } else { "disable" }
                )));
            }
        };
        ActionResult::new(&Done {
            user_id: user.to_string(),
            status: status(self.active),
            changed,
        })
    }
}
