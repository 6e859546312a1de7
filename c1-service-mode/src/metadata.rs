//! What Hello carries: the connector's metadata and capabilities, build and OS information.

use connector_sdk::{Capability, FieldKind, Registry, ResourceTrait};

use crate::proto::{self, capability};

/// `HelloRequest` for `task_id` (empty at start-up, a HelloTask's id otherwise).
pub(crate) fn hello(
    registry: &Registry,
    host_id: &str,
    task_id: &str,
    package: &(String, String),
) -> proto::HelloRequest {
    proto::HelloRequest {
        host_id: host_id.to_owned(),
        task_id: task_id.to_owned(),
        build_info: Some(proto::BuildInfo {
            lang_version: format!("rust {}", env!("CARGO_PKG_RUST_VERSION")),
            package: non_empty(&package.0, "connector"),
            package_version: non_empty(&package.1, "0.0.0"),
        }),
        os_info: Some(os_info()),
        connector_metadata: Some(connector_metadata(registry)),
        annotations: Vec::new(),
    }
}

fn non_empty(text: &str, default: &str) -> String {
    let text: String = text.chars().take(256).collect();
    if text.trim().is_empty() {
        default.to_owned()
    } else {
        text
    }
}

/// The connector's metadata: names, capabilities per resource type (sorted by id), the
/// connector-level union, and the account-creation schema.
pub(crate) fn connector_metadata(registry: &Registry) -> proto::ConnectorMetadata {
    let manifest = registry.manifest();
    let creates_accounts = manifest.account_creation.is_some();
    let mut types = registry.resource_types();
    types.sort_by(|a, b| a.id.cmp(&b.id));
    let account_type = types
        .iter()
        .find(|t| t.traits.contains(&ResourceTrait::User))
        .map(|t| t.id.clone());
    let mut union = Vec::new();
    let resource_type_capabilities = types
        .iter()
        .map(|t| {
            let declared = manifest
                .resource_types
                .iter()
                .find(|m| m.id == t.id)
                .map(|m| m.capabilities.clone())
                .unwrap_or_default();
            let mut capabilities = vec![capability::SYNC];
            if declared.contains(&Capability::Provision) {
                capabilities.push(capability::PROVISION);
            }
            if creates_accounts && account_type.as_ref() == Some(&t.id) {
                capabilities.push(capability::ACCOUNT_PROVISIONING);
            }
            capabilities.sort_unstable();
            union.extend(capabilities.iter().copied());
            proto::ResourceTypeCapability {
                resource_type: c1z::wire::resource_type(t),
                capabilities,
            }
        })
        .collect();
    if !manifest.actions.is_empty() {
        union.push(capability::ACTIONS);
    }
    union.sort_unstable();
    union.dedup();
    let credential_details = creates_accounts.then(|| proto::CredentialDetails {
        capability_account_provisioning: Some(proto::CredentialDetail {
            supported_credential_options: vec![proto::CREDENTIAL_NO_PASSWORD],
            preferred_credential_option: proto::CREDENTIAL_NO_PASSWORD,
        }),
    });
    let account_creation_schema =
        manifest
            .account_creation
            .map(|accounts| proto::AccountCreationSchema {
                field_map: accounts
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(order, f)| {
                        let kind = match f.kind {
                            FieldKind::Boolean => proto::AccountFieldKind::Bool(proto::Empty {}),
                            FieldKind::StringList => {
                                proto::AccountFieldKind::StringList(proto::Empty {})
                            }
                            FieldKind::Integer => proto::AccountFieldKind::Int(proto::Empty {}),
                            _ => proto::AccountFieldKind::String(proto::Empty {}),
                        };
                        let field = proto::AccountField {
                            display_name: f.name.clone(),
                            required: f.required,
                            description: f.description.clone(),
                            placeholder: String::new(),
                            order: i32::try_from(order).unwrap_or(i32::MAX),
                            deprecated: false,
                            field: Some(kind),
                        };
                        (f.name.clone(), field)
                    })
                    .collect(),
            });
    let metadata = &manifest.connector;
    proto::ConnectorMetadata {
        display_name: cut(&metadata.display_name, 1024),
        help_url: String::new(),
        description: cut(&metadata.description, 4096),
        capabilities: Some(proto::ConnectorCapabilities {
            resource_type_capabilities,
            connector_capabilities: union,
            credential_details,
        }),
        account_creation_schema,
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// The host as Hello describes it; every field non-empty.
fn os_info() -> proto::OsInfo {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let release = read("/etc/os-release").unwrap_or_default();
    let field = |key: &str| {
        release
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(|v| v.trim_matches('"').to_owned())
            .filter(|v| !v.is_empty())
    };
    let platform = field("ID").unwrap_or_else(|| "unknown".into());
    proto::OsInfo {
        hostname: non_empty(&read("/etc/hostname").unwrap_or_default(), "unknown"),
        os: std::env::consts::OS.to_owned(),
        platform_family: non_empty(
            &field("ID_LIKE").unwrap_or_else(|| platform.clone()),
            "unknown",
        ),
        platform_version: non_empty(&field("VERSION_ID").unwrap_or_default(), "unknown"),
        platform: non_empty(&platform, "unknown"),
        kernel_version: non_empty(
            &read("/proc/sys/kernel/osrelease").unwrap_or_default(),
            "unknown",
        ),
        kernel_arch: std::env::consts::ARCH.to_owned(),
        virtualization_system: "none".to_owned(),
    }
}
