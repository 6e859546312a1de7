//! A synthetic connector that makes no I/O: users whose list rows carry their group grants, and
//! groups whose list page carries their `member` entitlements. It measures the engine and the
//! store, nothing else.

use async_trait::async_trait;
use connector_sdk::{
    ConnectorError, ConnectorMetadata, Entitlement, EntitlementId, Grant, ListRequest, OffsetLanes,
    Page, PageToken, Purpose, Registry, Resource, ResourceId, ResourceStatus, ResourceSyncer,
    ResourceTrait, ResourceType, ResourceTypeId, UserTrait,
};

/// The synthetic tenant's size.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Users.
    pub users: u64,
    /// Groups.
    pub groups: u64,
    /// Group memberships per user.
    pub grants_per_user: u64,
    /// Rows per list page.
    pub page_size: u64,
}

impl Size {
    /// Resources in all.
    pub fn resources(&self) -> u64 {
        self.users + self.groups
    }

    /// Grants in all.
    pub fn grants(&self) -> u64 {
        self.users * self.grants_per_user.min(self.groups)
    }
}

/// A registry for a synthetic tenant of `size`.
pub fn registry(size: Size) -> Registry {
    Registry::builder(
        ConnectorMetadata::new("synthetic", "Synthetic", "Generated data, no I/O"),
        Generated(size),
    )
    .syncer(Users(size))
    .syncer(Groups(size))
    .build()
    .unwrap_or_else(|e| unreachable!("the synthetic registration is valid: {e}"))
}

/// The synthetic connector's configuration: its fingerprint is the size it generates.
struct Generated(Size);

impl connector_sdk::Connector for Generated {
    fn fingerprint(&self) -> String {
        format!("{:?}", self.0)
    }
}

fn start(request: &ListRequest) -> Result<u64, ConnectorError> {
    PageToken::parse_offset(request.token.as_ref())
}

/// Offset paging that hands out one token per worker, as a parallel HTTP connector would.
fn next_tokens(start: u64, rows: u64, size: u64, parallelism: usize) -> Vec<PageToken> {
    OffsetLanes::new(size).next(
        start,
        usize::try_from(rows).unwrap_or(usize::MAX),
        parallelism,
    )
}

struct Users(Size);

#[async_trait]
impl ResourceSyncer for Users {
    fn resource_type(&self) -> ResourceType {
        ResourceType::new("user", "User", [ResourceTrait::User])
    }

    async fn list(&self, request: ListRequest) -> Result<Page<Resource>, ConnectorError> {
        let size = self.0;
        let start = start(&request)?;
        let end = (start + size.page_size).min(size.users);
        let per_user = size.grants_per_user.min(size.groups);
        let mut users = Vec::new();
        let mut grants = Vec::new();
        for u in start..end {
            let id = ResourceId::new("user", u.to_string());
            for k in 0..per_user {
                let group = (u * 7 + k * 13) % size.groups.max(1);
                grants.push(Grant::new(
                    EntitlementId::new(ResourceId::new("group", group.to_string()), "member"),
                    id.clone(),
                ));
            }
            users.push(
                Resource::new(id, format!("User {u}"))
                    .with_status(ResourceStatus::Enabled)
                    .with_user(
                        UserTrait::new()
                            .with_login(format!("user{u}"))
                            .with_email(format!("user{u}@example.com"), true),
                    ),
            );
        }
        let rows = end.saturating_sub(start);
        Ok(Page::new(users)
            .with_grants(grants)
            .with_next_tokens(next_tokens(
                start,
                rows,
                size.page_size,
                request.parallelism,
            )))
    }
}

struct Groups(Size);

#[async_trait]
impl ResourceSyncer for Groups {
    fn resource_type(&self) -> ResourceType {
        ResourceType::new("group", "Group", [ResourceTrait::Group])
    }

    async fn list(&self, request: ListRequest) -> Result<Page<Resource>, ConnectorError> {
        let size = self.0;
        let start = start(&request)?;
        let end = (start + size.page_size).min(size.groups);
        let groups: Vec<Resource> = (start..end)
            .map(|g| {
                Resource::new(
                    ResourceId::new("group", g.to_string()),
                    format!("Group {g}"),
                )
            })
            .collect();
        let entitlements: Vec<Entitlement> = groups
            .iter()
            .map(|g| {
                Entitlement::new(
                    g.id.clone(),
                    "member",
                    "Member",
                    Purpose::Assignment,
                    [ResourceTypeId::new("user")],
                )
            })
            .collect();
        let rows = end.saturating_sub(start);
        Ok(Page::new(groups)
            .with_entitlements(entitlements)
            .with_next_tokens(next_tokens(
                start,
                rows,
                size.page_size,
                request.parallelism,
            )))
    }
}
