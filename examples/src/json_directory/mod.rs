//! A connector for a directory kept in one JSON file: users, groups and memberships.
//!
//! It is deliberately small and complete: a paged user syncer whose rows carry no grants, a group
//! syncer with per-resource entitlements and grants, a provisioner that rewrites the file, account
//! creation and one action. Copy it to start a new connector.
//!
//! The file looks like this:
//!
//! ```json
//! {
//!   "users": [{"id": "ada", "name": "Ada Lovelace", "email": "ada@example.com", "active": true}],
//!   "groups": [{"id": "eng", "name": "Engineering", "members": ["ada"]}]
//! }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use connector_sdk::{
    AccountManager, Action, ActionSchema, Arguments, Connector, ConnectorError, ConnectorMetadata,
    CreateAccountOutcome, Entitlement, EntitlementId, FieldKind, FieldSpec, Grant, GrantOutcome,
    ListRequest, Page, PageToken, Provisioner, Purpose, Registry, Resource, ResourceId,
    ResourceRequest, ResourceStatus, ResourceSyncer, ResourceTrait, ResourceType, ResourceTypeId,
    RevokeOutcome, SyncerOptions, UserTrait,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// Users per list page.
const PAGE_SIZE: usize = 100;

/// The file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    /// Users.
    #[serde(default)]
    pub users: Vec<User>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<Group>,
}

/// One user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Unique id, also the login.
    pub id: String,
    /// Full name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Whether the account is enabled.
    #[serde(default = "enabled")]
    pub active: bool,
}

fn enabled() -> bool {
    true
}

/// One group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Unique id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Ids of member users.
    #[serde(default)]
    pub members: Vec<String>,
}

/// The file, shared by every capability. Reads and writes go through one lock, so concurrent
/// grants never lose an update.
#[derive(Debug)]
struct File {
    path: PathBuf,
    lock: Mutex<()>,
}

impl File {
    async fn read(&self) -> Result<Directory, ConnectorError> {
        let text = tokio::fs::read_to_string(&self.path).await.map_err(|e| {
            ConnectorError::fatal_with(format!("cannot read {}", self.path.display()), e)
        })?;
        serde_json::from_str(&text).map_err(|e| {
            ConnectorError::fatal_with(
                format!("{} is not a directory file", self.path.display()),
                e,
            )
        })
    }

    /// Reads, changes and writes the file under the lock; the write replaces the file atomically.
    async fn update<T>(
        &self,
        change: impl FnOnce(&mut Directory) -> Result<(T, bool), ConnectorError>,
    ) -> Result<T, ConnectorError> {
        let _held = self.lock.lock().await;
        let mut directory = self.read().await?;
        let (out, changed) = change(&mut directory)?;
        if changed {
            let json = serde_json::to_string_pretty(&directory)
                .map_err(|e| ConnectorError::fatal_with("cannot encode the directory", e))?;
            let tmp = self.path.with_extension("json.tmp");
            let write = async {
                tokio::fs::write(&tmp, json).await?;
                tokio::fs::rename(&tmp, &self.path).await
            };
            write.await.map_err(|e| {
                ConnectorError::fatal_with(format!("cannot write {}", self.path.display()), e)
            })?;
        }
        Ok(out)
    }
}

/// Builds the registry of a JSON-directory connector for the file at `path`. Nothing is read
/// until a capability is called.
pub fn registry(path: impl AsRef<Path>) -> Result<Registry, connector_sdk::Error> {
    let file = Arc::new(File {
        path: path.as_ref().to_owned(),
        lock: Mutex::new(()),
    });
    Registry::builder(ConnectorMetadata::new(
        "json-directory",
        "JSON directory",
        "Users, groups and memberships kept in a JSON file",
    ))
    .connector(JsonDirectory(file.clone()))
    .syncer(Users(file.clone()))
    .syncer(Groups(file.clone()))
    .provisioner("group", Groups(file.clone()))
    .account_manager(Accounts(file.clone()))
    .action(SetActive(file))
    .build()
}

struct JsonDirectory(Arc<File>);

#[async_trait]
impl Connector for JsonDirectory {
    async fn validate(&self) -> Result<Vec<String>, ConnectorError> {
        self.0.read().await.map(|_| Vec::new())
    }
}

fn user_resource(user: &User) -> Resource {
    let status = if user.active {
        ResourceStatus::Enabled
    } else {
        ResourceStatus::Disabled
    };
    Resource::new(ResourceId::new("user", user.id.clone()), user.name.clone())
        .with_status(status)
        .with_user(
            UserTrait::new()
                .with_login(user.id.clone())
                .with_email(user.email.clone(), true),
        )
}

fn member(group: &str) -> EntitlementId {
    EntitlementId::new(ResourceId::new("group", group), "member")
}

struct Users(Arc<File>);

#[async_trait]
impl ResourceSyncer for Users {
    fn resource_type(&self) -> ResourceType {
        ResourceType::new("user", "User", [ResourceTrait::User])
    }

    async fn list(&self, request: ListRequest) -> Result<Page<Resource>, ConnectorError> {
        let start = usize::try_from(PageToken::parse_offset(request.token.as_ref())?)
            .map_err(|_| ConnectorError::invalid_argument("offset too large"))?;
        let directory = self.0.read().await?;
        let users = directory.users.iter().skip(start).take(PAGE_SIZE);
        let page = Page::new(users.map(user_resource).collect());
        let next = start + PAGE_SIZE;
        Ok(if next < directory.users.len() {
            page.with_next(PageToken::offset(next as u64))
        } else {
            page
        })
    }
}

struct Groups(Arc<File>);

#[async_trait]
impl ResourceSyncer for Groups {
    fn resource_type(&self) -> ResourceType {
        ResourceType::new("group", "Group", [ResourceTrait::Group])
    }

    fn options(&self) -> SyncerOptions {
        SyncerOptions::per_resource()
    }

    async fn list(&self, _request: ListRequest) -> Result<Page<Resource>, ConnectorError> {
        let directory = self.0.read().await?;
        Ok(Page::new(
            directory
                .groups
                .iter()
                .map(|g| Resource::new(ResourceId::new("group", g.id.clone()), g.name.clone()))
                .collect(),
        ))
    }

    async fn entitlements(
        &self,
        request: ResourceRequest,
    ) -> Result<Page<Entitlement>, ConnectorError> {
        Ok(Page::new(vec![Entitlement::new(
            request.resource,
            "member",
            "Member",
            Purpose::Assignment,
            [ResourceTypeId::new("user")],
        )]))
    }

    async fn grants(&self, request: ResourceRequest) -> Result<Page<Grant>, ConnectorError> {
        let directory = self.0.read().await?;
        let group = directory
            .groups
            .iter()
            .find(|g| g.id == request.resource.id)
            .ok_or_else(|| ConnectorError::not_found(request.resource.to_string()))?;
        let entitlement = member(&group.id);
        Ok(Page::new(
            group
                .members
                .iter()
                .map(|u| Grant::new(entitlement.clone(), ResourceId::new("user", u.clone())))
                .collect(),
        ))
    }
}

fn find_group<'a>(
    directory: &'a mut Directory,
    entitlement: &EntitlementId,
) -> Result<&'a mut Group, ConnectorError> {
    if entitlement.slug != "member" {
        return Err(ConnectorError::not_found(entitlement.to_string()));
    }
    directory
        .groups
        .iter_mut()
        .find(|g| g.id == entitlement.resource.id)
        .ok_or_else(|| ConnectorError::not_found(entitlement.resource.to_string()))
}

#[async_trait]
impl Provisioner for Groups {
    async fn grant(
        &self,
        principal: &ResourceId,
        entitlement: &EntitlementId,
    ) -> Result<GrantOutcome, ConnectorError> {
        self.0
            .update(|directory| {
                if !directory.users.iter().any(|u| u.id == principal.id) {
                    return Err(ConnectorError::not_found(principal.to_string()));
                }
                let group = find_group(directory, entitlement)?;
                if group.members.contains(&principal.id) {
                    return Ok((GrantOutcome::AlreadyGranted, false));
                }
                group.members.push(principal.id.clone());
                Ok((GrantOutcome::Granted, true))
            })
            .await
    }

    async fn revoke(&self, grant: &Grant) -> Result<RevokeOutcome, ConnectorError> {
        self.0
            .update(|directory| {
                let group = find_group(directory, &grant.entitlement)?;
                let before = group.members.len();
                group.members.retain(|m| m != &grant.principal.id);
                Ok(if group.members.len() == before {
                    (RevokeOutcome::AlreadyRevoked, false)
                } else {
                    (RevokeOutcome::Revoked, true)
                })
            })
            .await
    }
}

struct Accounts(Arc<File>);

#[async_trait]
impl AccountManager for Accounts {
    fn schema(&self) -> Vec<FieldSpec> {
        vec![
            FieldSpec::required("id", FieldKind::String, "Unique user id, also the login"),
            FieldSpec::required("name", FieldKind::String, "Full name"),
            FieldSpec::required("email", FieldKind::String, "Email address"),
            FieldSpec::optional("active", FieldKind::Boolean, "Enabled (default true)"),
        ]
    }

    async fn create_account(
        &self,
        fields: Arguments,
    ) -> Result<CreateAccountOutcome, ConnectorError> {
        let user = User {
            id: fields.str("id").unwrap_or_default().to_owned(),
            name: fields.str("name").unwrap_or_default().to_owned(),
            email: fields.str("email").unwrap_or_default().to_owned(),
            active: fields.bool("active").unwrap_or(true),
        };
        if user.id.is_empty() {
            return Err(ConnectorError::invalid_argument("`id` is empty"));
        }
        self.0
            .update(|directory| {
                if let Some(existing) = directory
                    .users
                    .iter()
                    .find(|u| u.id == user.id || u.email == user.email)
                {
                    return Ok((
                        CreateAccountOutcome::AlreadyExists(user_resource(existing)),
                        false,
                    ));
                }
                let created = user_resource(&user);
                directory.users.push(user);
                Ok((CreateAccountOutcome::Created(created), true))
            })
            .await
    }
}

struct SetActive(Arc<File>);

#[async_trait]
impl Action for SetActive {
    fn schema(&self) -> ActionSchema {
        ActionSchema::new(
            "set_active",
            "Enables or disables a user",
            vec![
                FieldSpec::required("user_id", FieldKind::String, "The user's id"),
                FieldSpec::required("active", FieldKind::Boolean, "The new state"),
            ],
        )
    }

    async fn run(
        &self,
        arguments: Arguments,
    ) -> Result<serde_json::Map<String, serde_json::Value>, ConnectorError> {
        let id = arguments.str("user_id").unwrap_or_default().to_owned();
        let active = arguments.bool("active").unwrap_or(true);
        self.0
            .update(|directory| {
                let user = directory
                    .users
                    .iter_mut()
                    .find(|u| u.id == id)
                    .ok_or_else(|| ConnectorError::not_found(format!("user:{id}")))?;
                let changed = user.active != active;
                user.active = active;
                let mut out = serde_json::Map::new();
                out.insert("user_id".into(), id.clone().into());
                out.insert("active".into(), active.into());
                Ok((out, changed))
            })
            .await
    }
}
