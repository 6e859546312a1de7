//! A connector for a directory kept in one JSON file, small and complete: copy it to start a
//! connector. A paged user syncer; a group syncer whose page carries each group's `member`
//! entitlement and grants; a provisioner; account creation; one action. The file:
//!
//! ```json
//! {
//!   "users": [{"id": "ada", "name": "Ada Lovelace", "email": "ada@example.com", "active": true}],
//!   "groups": [{"id": "eng", "name": "Engineering", "members": ["ada"]}]
//! }
//! ```

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use connector_sdk::{
    AccountManager, Action, ActionRequest, ActionResult, ActionSchema, Connector, ConnectorError,
    ConnectorMetadata, CreateAccountOutcome, CreateAccountRequest, Entitlement, EntitlementId,
    FieldKind, FieldSpec, Grant, GrantOutcome, GrantRequest, ListRequest, Page, Provisioner,
    Purpose, Registry, Resource, ResourceId, ResourceStatus, ResourceSyncer, ResourceTrait,
    ResourceType, ResourceTypeId, RevokeOutcome, RevokeRequest, UserTrait,
};
use serde_json::json;

mod cli;
mod file;

type Result<T, E = ConnectorError> = std::result::Result<T, E>;
pub use cli::{Args, Cli};
use file::File;
pub use file::{Directory, Group, User};

/// The registry of a JSON-directory connector for the file at `path` (read on first use).
pub fn registry(path: impl AsRef<Path>) -> Result<Registry, connector_sdk::Error> {
    let file = Arc::new(File::new(path.as_ref().to_owned()));
    let about = "Users, groups and memberships kept in a JSON file";
    let metadata = ConnectorMetadata::new("json-directory", "JSON directory", about);
    Registry::builder(metadata, Directories(file.clone()))
        .syncer(Users(file.clone()))
        .syncer(Groups(file.clone()))
        .provisioner("group", Groups(file.clone()))
        .account_manager(Directories(file.clone()))
        .action(Directories(file))
        .build()
}

fn user_resource(user: &User) -> Resource {
    let trait_ = UserTrait::new().with_login(&user.id);
    Resource::new(ResourceId::new("user", &user.id), &user.name)
        .with_status(ResourceStatus::from_active(user.active))
        .with_user(trait_.with_email(&user.email, true))
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

    async fn list(&self, request: ListRequest) -> Result<Page<Resource>> {
        let users = self.0.read().await?.users;
        Page::from_offset(&users, request.token.as_ref(), 100, user_resource)
    }
}

struct Groups(Arc<File>);

#[async_trait]
impl ResourceSyncer for Groups {
    fn resource_type(&self) -> ResourceType {
        ResourceType::new("group", "Group", [ResourceTrait::Group])
    }

    async fn list(&self, _request: ListRequest) -> Result<Page<Resource>> {
        let mut page = Page::empty();
        for group in self.0.read().await?.groups {
            let id = ResourceId::new("group", &group.id);
            let to = [ResourceTypeId::new("user")];
            let offered = Entitlement::new(id.clone(), "member", "Member", Purpose::Assignment, to);
            let users = group.members.iter().map(|u| ResourceId::new("user", u));
            let grants = users.map(|user| Grant::new(member(&group.id), user));
            page = page.with_entitlements([offered]).with_grants(grants);
            page.items.push(Resource::new(id, group.name));
        }
        Ok(page)
    }
}

fn group<'a>(dir: &'a mut Directory, id: &EntitlementId) -> Result<&'a mut Group> {
    let found = dir.groups.iter_mut().find(|g| member(&g.id) == *id);
    found.ok_or_else(|| ConnectorError::not_found(id.to_string()))
}

#[async_trait]
impl Provisioner for Groups {
    async fn grant(&self, request: GrantRequest) -> Result<GrantOutcome> {
        request.require_permanent()?;
        let (who, to) = (&request.principal, &request.entitlement);
        self.0
            .update(|dir| {
                if !dir.users.iter().any(|u| u.id == who.id) {
                    return Err(ConnectorError::not_found(who.to_string()));
                }
                let members = &mut group(dir, to)?.members;
                if members.contains(&who.id) {
                    return Ok((GrantOutcome::AlreadyGranted, false));
                }
                members.push(who.id.clone());
                Ok((
                    GrantOutcome::granted(vec![Grant::new(to.clone(), who.clone())]),
                    true,
                ))
            })
            .await
    }

    async fn revoke(&self, RevokeRequest { grant, .. }: RevokeRequest) -> Result<RevokeOutcome> {
        self.0
            .update(|dir| {
                let members = &mut group(dir, &grant.entitlement)?.members;
                let before = members.len();
                members.retain(|m| *m != grant.principal.id);
                if members.len() == before {
                    return Ok((RevokeOutcome::AlreadyRevoked, false));
                }
                Ok((RevokeOutcome::Revoked, true))
            })
            .await
    }
}

/// The file (its canonical path is the fingerprint's `file`); creates accounts; runs
/// `set_active`.
struct Directories(Arc<File>);

#[async_trait]
impl Connector for Directories {
    fn fingerprint(&self) -> connector_sdk::Fingerprint {
        connector_sdk::Fingerprint::new("file", self.0.canonical_path())
    }
    async fn validate(&self) -> Result<Vec<String>> {
        self.0.read().await.map(|_| Vec::new())
    }
}

#[async_trait]
impl AccountManager for Directories {
    fn schema(&self) -> Vec<FieldSpec> {
        vec![
            FieldSpec::required("id", FieldKind::String, "Unique user id, also the login"),
            FieldSpec::required("name", FieldKind::String, "Full name"),
            FieldSpec::required("email", FieldKind::String, "Email address"),
            FieldSpec::optional("active", FieldKind::Boolean, "Enabled (default true)"),
        ]
    }

    async fn create_account(&self, request: CreateAccountRequest) -> Result<CreateAccountOutcome> {
        let user: User = request.fields.parse()?;
        if user.id.is_empty() {
            return Err(ConnectorError::invalid_argument("`id` is empty"));
        }
        self.0
            .update(|dir| {
                let taken = |u: &&User| u.id == user.id || u.email == user.email;
                if let Some(old) = dir.users.iter().find(taken).map(user_resource) {
                    return Ok((CreateAccountOutcome::AlreadyExists(old), false));
                }
                let created = CreateAccountOutcome::Created(user_resource(&user));
                dir.users.push(user);
                Ok((created, true))
            })
            .await
    }
}

#[async_trait]
impl Action for Directories {
    fn schema(&self) -> ActionSchema {
        let fields = vec![
            FieldSpec::required("user_id", FieldKind::String, "The user's id"),
            FieldSpec::required("active", FieldKind::Boolean, "The new state"),
        ];
        ActionSchema::new("set_active", "Enables or disables a user", fields)
    }

    async fn run(&self, ActionRequest { arguments, .. }: ActionRequest) -> Result<ActionResult> {
        let id = arguments.str("user_id").unwrap_or_default().to_owned();
        let active = arguments.bool("active").unwrap_or(true);
        self.0
            .update(|dir| {
                let user = dir.users.iter_mut().find(|u| u.id == id);
                let user = user.ok_or_else(|| ConnectorError::not_found(format!("user:{id}")))?;
                let changed = std::mem::replace(&mut user.active, active) != active;
                let result = ActionResult::new(&json!({"user_id": id, "active": active}))?;
                Ok((result, changed))
            })
            .await
    }
}
