//! User groups, roles, account groups and content groups: listed by offset pages, each row a
//! resource with its `member` entitlement on the same page.

use std::sync::Arc;

use async_trait::async_trait;
use connector_sdk::{
    ConnectorError, ListRequest, Page, Resource, ResourceId, ResourceSyncer, ResourceType,
};

use super::{approver_entitlement, member_entitlement, take_first_page};
use crate::kinds::{Kind, Row, rows};
use crate::paging;
use crate::session::{AccountGroups, Roles, RunState, Session};

pub(crate) struct GroupLike {
    pub(crate) session: Arc<Session>,
    pub(crate) kind: Kind,
}

impl GroupLike {
    async fn fetch(&self, run: &RunState, offset: u64) -> Result<Vec<Row>, ConnectorError> {
        let client = self.session.client(run).await?;
        (self.kind.spec().fetch)(client.clone(), offset).await
    }

    /// The first page when another syncer already fetched it to make a decision.
    async fn prefetched(&self, run: &RunState) -> Result<Option<Vec<Row>>, ConnectorError> {
        Ok(match self.kind {
            Kind::Role => match self.session.roles(run).await? {
                Roles::Endpoint(first) => take_first_page(first).map(rows),
                Roles::FromUsers => None,
            },
            Kind::AccountGroup => match self.session.account_groups(run).await? {
                AccountGroups::Available(first) => take_first_page(first).map(rows),
                AccountGroups::Unavailable(_) => None,
            },
            Kind::Group | Kind::ContentGroup => None,
        })
    }

    /// A warning-only first page when the listing is unavailable.
    async fn unavailable(&self, run: &RunState) -> Result<Option<String>, ConnectorError> {
        Ok(match self.kind {
            Kind::Role => match self.session.roles(run).await? {
                Roles::FromUsers => Some(
                    "GET /api/roles is not served by this tenant; roles are built from the roles \
                     embedded in user records"
                        .to_owned(),
                ),
                Roles::Endpoint(_) => None,
            },
            Kind::AccountGroup => match self.session.account_groups(run).await? {
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
        let spec = self.kind.spec();
        ResourceType::new(spec.type_id, spec.display, [spec.resource_trait])
    }

    async fn list(&self, request: ListRequest) -> Result<Page<Resource>, ConnectorError> {
        let run = request.run.state::<RunState>();
        run.note_selection(&request.run);
        let spec = self.kind.spec();
        let offset = paging::offset(request.token.as_ref())?;
        if offset == 0
            && let Some(warning) = self.unavailable(&run).await?
        {
            return Ok(Page::empty().with_warning(warning));
        }
        let prefetched = if offset == 0 {
            self.prefetched(&run).await?
        } else {
            None
        };
        let rows = match prefetched {
            Some(rows) => rows,
            None => self.fetch(&run, offset).await?,
        };
        let row_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        run.pages.check(spec.type_id, offset, &row_ids)?;
        // Group-like lists are short next to the users pass, which keeps the workers busy: one
        // lane each, so they never fetch pages past their end.
        let next = paging::next(offset, rows.len(), 1);
        let what = spec.display;
        let resources: Vec<Resource> = rows
            .into_iter()
            .map(|row| {
                let id = ResourceId::new(spec.type_id, row.id.to_string());
                let name = row.name.unwrap_or_else(|| format!("{what} {}", row.id));
                let mut resource = Resource::new(id, name);
                if let Some(can) = row.can_approve {
                    resource = resource.with_profile("can_approve", can);
                }
                match row.description.filter(|d| !d.is_empty()) {
                    Some(d) => resource.with_description(d),
                    None => resource,
                }
            })
            .collect();
        let mut entitlements: Vec<_> = resources
            .iter()
            .map(|r| member_entitlement(r.id.clone(), what))
            .collect();
        // Every user group has approvers (`approval-groups` of its users), whether or not it
        // can approve now.
        if self.kind == Kind::Group {
            entitlements.extend(
                resources
                    .iter()
                    .map(|r| approver_entitlement(r.id.clone(), &r.display_name)),
            );
        }
        Ok(Page::new(resources)
            .with_entitlements(entitlements)
            .with_next_tokens(next))
    }
}
