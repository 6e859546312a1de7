//! `capabilities`: the manifest, as JSON or for people.

use connector_sdk::Registry;
use serde_json::Value;

/// The capability manifest: JSON, or a few lines for people.
pub(crate) fn describe(registry: &Registry, json: bool) -> String {
    let manifest = registry.manifest();
    if json {
        return manifest.to_json();
    }
    let mut out = format!(
        "{} ({})\n\nresource types:\n",
        manifest.connector.display_name, manifest.connector.id
    );
    for t in &manifest.resource_types {
        let capabilities: Vec<String> = t
            .capabilities
            .iter()
            .map(|c| serde_json::to_value(c).map_or_else(|_| format!("{c:?}"), plain))
            .collect();
        out.push_str(&format!(
            "  {:<16} {}\n",
            t.id.to_string(),
            capabilities.join(", ")
        ));
    }
    if !manifest.actions.is_empty() {
        out.push_str("\nactions:\n");
        for action in &manifest.actions {
            let arguments: Vec<String> = action.arguments.iter().map(field_usage).collect();
            out.push_str(&format!("  {} {}\n", action.name, arguments.join(" ")));
        }
    }
    if let Some(accounts) = &manifest.account_creation {
        let fields: Vec<String> = accounts.fields.iter().map(field_usage).collect();
        out.push_str(&format!("\ncreate-account {}\n", fields.join(" ")));
    }
    out
}

fn plain(value: Value) -> String {
    match value {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

/// `--first-name VALUE`, in brackets when optional.
fn field_usage(field: &connector_sdk::FieldSpec) -> String {
    let flag = format!("--{} VALUE", field.name.replace('_', "-"));
    if field.required {
        flag
    } else {
        format!("[{flag}]")
    }
}
