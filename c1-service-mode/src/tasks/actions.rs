//! The action tasks: list and get schemas, invoke, status.

use connector_sdk::{CallContext, FieldKind};
use prost::Message;
use serde_json::Map;

use super::{Finish, malformed, sdk_error};
use crate::proto::{self, code};
use crate::shared::Shared;

fn action_schema(schema: &connector_sdk::ActionSchema) -> proto::ActionSchema {
    proto::ActionSchema {
        name: schema.name.clone(),
        arguments: schema
            .arguments
            .iter()
            .map(|f| proto::ConfigField {
                name: f.name.clone(),
                display_name: f.name.clone(),
                description: f.description.clone(),
                is_required: f.required,
                field: Some(match f.kind {
                    FieldKind::Integer => proto::ConfigFieldKind::Int(proto::Empty {}),
                    FieldKind::Boolean => proto::ConfigFieldKind::Bool(proto::Empty {}),
                    FieldKind::StringList => proto::ConfigFieldKind::StringSlice(proto::Empty {}),
                    _ => proto::ConfigFieldKind::String(proto::Empty {}),
                }),
            })
            .collect(),
        display_name: schema.name.clone(),
        description: schema.description.clone(),
    }
}

pub(super) fn list_schemas(shared: &Shared) -> Finish {
    let response = proto::ListActionSchemasResponse {
        schemas: shared
            .registry
            .actions()
            .iter()
            .map(action_schema)
            .collect(),
        annotations: Vec::new(),
    };
    Finish::success(
        "c1.connector.v2.ListActionSchemasResponse",
        response.encode_to_vec(),
    )
}

pub(super) fn get_schema(shared: &Shared, name: &str) -> Finish {
    if name.is_empty() {
        return Finish::error(code::INVALID_ARGUMENT, "action name required", false);
    }
    match shared.registry.actions().iter().find(|a| a.name == name) {
        Some(schema) => {
            let response = proto::GetActionSchemaResponse {
                schema: Some(action_schema(schema)),
                annotations: Vec::new(),
            };
            Finish::success(
                "c1.connector.v2.GetActionSchemaResponse",
                response.encode_to_vec(),
            )
        }
        None => Finish::error(code::NOT_FOUND, format!("unknown action `{name}`"), false),
    }
}

pub(super) async fn invoke_action(shared: &Shared, task: proto::ActionInvokeTask) -> Finish {
    if task.name.is_empty() {
        return Finish::error(code::INVALID_ARGUMENT, "action name required", false);
    }
    let arguments = if task.args.is_empty() {
        Map::new()
    } else {
        match c1z::wire::read_json_struct(&task.args) {
            Ok(arguments) => arguments,
            Err(e) => return malformed("action invoke", e),
        }
    };
    let context = CallContext::default().with_actor("ConductorOne");
    match shared
        .registry
        .run_action(&task.name, arguments, context)
        .await
    {
        Ok(result) => {
            let id = c1z::wire::ksuid();
            let response = c1z::wire::json_struct(result.as_map());
            shared
                .actions
                .keep(id.clone(), task.name.clone(), response.clone());
            let answer = proto::InvokeActionResponse {
                id,
                status: proto::ACTION_COMPLETE,
                annotations: Vec::new(),
                response,
                name: task.name,
            };
            Finish::success(
                "c1.connector.v2.InvokeActionResponse",
                answer.encode_to_vec(),
            )
        }
        Err(error) => match sdk_error(&error) {
            Finish::Error { code, message, .. } => Finish::error(code, message, false),
            other => other,
        },
    }
}

pub(super) fn action_status(shared: &Shared, id: &str) -> Finish {
    if id.is_empty() {
        return Finish::error(code::INVALID_ARGUMENT, "action id required", false);
    }
    match shared.actions.find(id) {
        Some((name, response)) => {
            let answer = proto::GetActionStatusResponse {
                name,
                id: id.to_owned(),
                status: proto::ACTION_COMPLETE,
                annotations: Vec::new(),
                response,
            };
            Finish::success(
                "c1.connector.v2.GetActionStatusResponse",
                answer.encode_to_vec(),
            )
        }
        None => Finish::error(code::NOT_FOUND, format!("no action with id {id}"), false),
    }
}
