//! User groups, roles, account groups and content groups: listed by offset pages, each row a
//! resource with its `member` entitlement on the same page.

use std::sync::Arc;

use async_trait::async_trait;
use connector_sdk::{
    ConnectorError, ListRequest, Page, Resource, ResourceId, ResourceSyncer, ResourceTrait,
    ResourceType, SyncerOptions,
};
use coupa_client::models::{AccountGroup, ContentGroup, Record, Role, UserGroup};
use coupa_client::{Fields, ListQuery};
use serde::de::DeserializeOwned;

use super::{member_entitlement, take_first_page};
use crate::errors::to_connector;
use crate::ids;
use crate::paging::{self, PAGE_SIZE};
use crate::session::{AccountGroups, Roles, Session, account_group_fields, role_fields};

/// Which group-like listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Group,
    Role,
    AccountGroup,
    ContentGroup,
}

impl Kind {
    fn type_id(self) -> &'static str {
        match self {
            Self::Group => ids::GROUP,
            Self::Role => ids::ROLE,
            Self::AccountGroup => ids::ACCOUNT_GROUP,
            Self::ContentGroup => ids::CONTENT_GROUP,
        }
    }

    fn display(self) -> &'static str {
        match self {
            Self::Group => "User group",
            Self::Role => "Role",
            Self::AccountGroup => "Account group",
            Self::ContentGroup => "Content group",
        }
    }
}

/// One row, whatever its listing.
struct Row {
    id: i64,
    name: Option<String>,
    description: Option<String>,
}

impl From<UserGroup> for Row {
    fn from(g: UserGroup) -> Self {
        Self {
            id: g.id,
            name: g.name,
            description: g.description,
        }
    }
}

impl From<Role> for Row {
    fn from(r: Role) -> Self {
        Self {
            id: r.id,
            name: r.name,
            description: r.description,
        }
    }
}

impl From<AccountGroup> for Row {
    fn from(a: AccountGroup) -> Self {
        Self {
            id: a.id,
            name: a.name,
            description: None,
        }
    }
}

impl From<ContentGroup> for Row {
    fn from(c: ContentGroup) -> Self {
        Self {
            id: c.id,
            name: c.name,
            description: c.description,
        }
    }
}

fn rows<T: Into<Row>>(records: Vec<T>) -> Vec<Row> {
    records.into_iter().map(Into::into).collect()
}

/// One page of a listing, projected.
async fn page<T>(
    query: ListQuery<T>,
    fields: Fields,
    offset: u64,
) -> Result<Vec<Row>, ConnectorError>
where
    T: DeserializeOwned + Record + Send + Into<Row> + 'static,
{
    let records = query
        .fields(fields)
        .limit(PAGE_SIZE)
        .offset(offset)
        .page()
        .await
        .map_err(to_connector)?;
    Ok(rows(records))
}

pub(crate) struct GroupLike {
    pub(crate) session: Arc<Session>,
    pub(crate) kind: Kind,
}

impl GroupLike {
    async fn fetch(&self, offset: u64) -> Result<Vec<Row>, ConnectorError> {
        let client = self.session.client().await?;
        let named = || Fields::of(["id", "name", "description"]);
        match self.kind {
            Kind::Group => page(client.user_groups(), named(), offset).await,
            Kind::Role => page(client.roles(), role_fields(), offset).await,
            Kind::AccountGroup => {
                page(client.account_groups(), account_group_fields(), offset).await
            }
            Kind::ContentGroup => page(client.content_groups(), named(), offset).await,
        }
    }

    /// The first page when another syncer already fetched it to make a decision.
    async fn prefetched(&self) -> Result<Option<Vec<Row>>, ConnectorError> {
        Ok(match self.kind {
            Kind::Role => match self.session.roles().await? {
                Roles::Endpoint(first) => take_first_page(first).map(rows),
                Roles::FromUsers => None,
            },
            Kind::AccountGroup => match self.session.account_groups().await? {
                AccountGroups::Available(first) => take_first_page(first).map(rows),
                AccountGroups::Unavailable(_) => None,
            },
            Kind::Group | Kind::ContentGroup => None,
        })
    }

    /// A warning-only first page when the listing is unavailable.
    async fn unavailable(&self) -> Result<Option<String>, ConnectorError> {
        Ok(match self.kind {
            Kind::Role => match self.session.roles().await? {
                Roles::FromUsers => Some(
                    "GET /api/roles is not served by this tenant; roles are built from the roles \
                     embedded in user records"
                        .to_owned(),
                ),
                Roles::Endpoint(_) => None,
            },
            Kind::AccountGroup => match self.session.account_groups().await? {
                AccountGroups::Unavailable(reason) => Some(reason.clone()),
                AccountGroups::Available(_) => None,
            },
            Kind::Group | Kind::ContentGroup => None,
        })
    }
}

#[async_trait]
impl ResourceSyncer for GroupLike {
    fn resource_type(&self) -> ResourceType {
        let traits = match self.kind {
            Kind::Role => ResourceTrait::Role,
            _ => ResourceTrait::Group,
        };
        ResourceType::new(self.kind.type_id(), self.kind.display(), [traits])
    }

    fn options(&self) -> SyncerOptions {
        SyncerOptions::list_only()
    }

    async fn list(&self, request: ListRequest) -> Result<Page<Resource>, ConnectorError> {
        let offset = paging::offset(request.token.as_ref())?;
        if offset == 0
            && let Some(warning) = self.unavailable().await?
        {
            return Ok(Page::empty().with_warning(warning));
        }
        let prefetched = if offset == 0 {
            self.prefetched().await?
        } else {
            None
        };
        let rows = match prefetched {
            Some(rows) => rows,
            None => self.fetch(offset).await?,
        };
        // Group-like lists are short next to the users pass, which keeps the workers busy: one
        // lane each, so they never fetch pages past their end.
        let next = paging::next(offset, rows.len(), 1);
        let what = self.kind.display();
        let resources: Vec<Resource> = rows
            .into_iter()
            .map(|row| {
                let id = ResourceId::new(self.kind.type_id(), row.id.to_string());
                let name = row.name.unwrap_or_else(|| format!("{what} {}", row.id));
                let resource = Resource::new(id, name);
                match row.description.filter(|d| !d.is_empty()) {
                    Some(d) => resource.with_description(d),
                    None => resource,
                }
            })
            .collect();
        let entitlements: Vec<_> = resources
            .iter()
            .map(|r| member_entitlement(r.id.clone(), what))
            .collect();
        Ok(Page::new(resources)
            .with_entitlements(entitlements)
            .with_next_tokens(next))
    }
}
