//! The actions `enable_user` and `disable_user`.

use std::sync::Arc;

use async_trait::async_trait;
use connector_sdk::{Action, ActionSchema, Arguments, ConnectorError, FieldKind, FieldSpec};
use serde_json::{Map, Value};

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

    async fn run(&self, arguments: Arguments) -> Result<Map<String, Value>, ConnectorError> {
        let text = arguments.str("user_id").unwrap_or_default();
        let user = parse_id(text, "user").map_err(|_| {
            ConnectorError::from(
                arguments.invalid("user_id", format!("{text:?} is not a positive integer")),
            )
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
        let mut out = Map::new();
        out.insert("user_id".into(), Value::String(user.to_string()));
        out.insert("status".into(), Value::String(status(self.active).into()));
        out.insert("changed".into(), Value::Bool(changed));
        Ok(out)
    }
}
