//! The users pass: users listed once, each row projected with its roles, groups, account groups,
//! content groups, license flags and approval authority (approval groups, approval limits), so
//! every grant comes from this one listing.

use std::sync::Arc;

use async_trait::async_trait;
use connector_sdk::{
    ConnectorError, Grant, ListRequest, Page, Resource, ResourceId, ResourceStatus, ResourceSyncer,
    ResourceTrait, ResourceType, UserTrait,
};
use coupa_client::{AccessList, ApprovalLimitKind, Fields, License, User};
use coupa_client::{CoupaClient, Reference};

use super::member_entitlement;
use crate::errors::to_connector;
use crate::ids;
use crate::kinds::Kind;
use crate::paging::{self, PAGE_SIZE};
use crate::session::{AccountGroups, Approvals, Roles, RunState, Session};

/// The projection of the users pass: identity, status, every license flag, the ids of each
/// access list (role names too, for tenants without a roles listing), and, with `approvals`,
/// the approval groups and the amount and currency of each approval limit.
pub(crate) fn user_fields(account_groups: bool, approvals: bool) -> Fields {
    let mut fields = Fields::of([
        "id",
        "login",
        "email",
        "firstname",
        "lastname",
        "fullname",
        "employee-number",
        "active",
    ]);
    for license in &License::ALL {
        fields = fields.key(license.key());
    }
    fields = fields
        .nested("roles", Fields::of(["id", "name"]))
        .nested("user-groups", Fields::of(["id"]))
        .nested("content-groups", Fields::of(["id"]));
    if account_groups {
        fields = fields.nested("account-groups", Fields::of(["id"]));
    }
    if approvals {
        fields = fields.nested("approval-groups", Fields::of(["id"]));
        for kind in ApprovalLimitKind::ALL {
            fields = fields.nested(
                kind.key(),
                Fields::of(["id", "amount"]).nested("currency", Fields::of(["code"])),
            );
        }
    }
    fields
}

/// A user record as a resource.
pub(crate) fn user_resource(user: &User) -> Resource {
    let full_name = user
        .fullname
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| {
            let joined = [user.firstname.as_deref(), user.lastname.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (!joined.is_empty()).then_some(joined)
        });
    let display = full_name
        .clone()
        .or_else(|| user.login.clone())
        .unwrap_or_else(|| format!("User {}", user.id));
    let mut trait_ = UserTrait::new();
    if let Some(login) = &user.login {
        trait_ = trait_.with_login(login.clone());
    }
    if let Some(email) = &user.email {
        trait_ = trait_.with_email(email.clone(), true);
    }
    if let Some(number) = &user.employee_number {
        trait_ = trait_.with_employee_id(number.clone());
    }
    let mut resource = Resource::new(ids::user(user.id), display).with_user(trait_);
    // A record without `active` says nothing about the status: none is recorded, rather than
    // a guess.
    if let Some(active) = user.active {
        resource = resource.with_status(ResourceStatus::from_active(active));
    }
    for (key, value) in [
        ("first_name", &user.firstname),
        ("last_name", &user.lastname),
        ("full_name", &full_name),
    ] {
        if let Some(value) = value {
            resource = resource.with_profile(key, value.clone());
        }
    }
    // Approval limits as the record carried them: a `null` or absent limit adds nothing.
    for (kind, limit) in &user.approval_limits {
        let Some(limit) = limit else { continue };
        if let Some(amount) = &limit.amount {
            let key = format!("{}_approval_limit_amount", kind.name());
            resource = resource.with_profile(key, amount.clone());
        }
        if let Some(code) = limit.currency.as_ref().and_then(|c| c.code.as_ref()) {
            let key = format!("{}_approval_limit_currency", kind.name());
            resource = resource.with_profile(key, code.clone());
        }
    }
    resource
}

/// Whether any record of a page carries approval authority (the keys, `null` or not).
fn carries_approvals(users: &[User]) -> bool {
    users
        .iter()
        .any(|u| u.approval_groups.is_some() || !u.approval_limits.is_empty())
}

/// The warning of a run synced without approval authority.
fn no_approvals(why: &str) -> String {
    format!(
        "{why}: users are synced without approver grants (group:<id>:approver) and without \
         approval limits"
    )
}

/// A list the users pass projected. Absent is not empty: a row without the key cannot say whom
/// the user's memberships are, so the page fails rather than drop them.
fn projected(user: &User, list: AccessList) -> Result<&[Reference], ConnectorError> {
    user.list(list).ok_or_else(|| {
        ConnectorError::fatal(format!(
            "Coupa's answer for user {} has no usable `{}` (absent or null) although it was \
             projected; refusing to take it as an empty list",
            user.id,
            list.key()
        ))
    })
}

pub(crate) struct Users {
    pub(crate) session: Arc<Session>,
}

#[async_trait]
impl ResourceSyncer for Users {
    fn resource_type(&self) -> ResourceType {
        ResourceType::new(ids::USER, "User", [ResourceTrait::User])
    }

    async fn list(&self, request: ListRequest) -> Result<Page<Resource>, ConnectorError> {
        let session = &self.session;
        let run = request.run.state::<RunState>();
        run.note_selection(&request.run);
        let offset = paging::offset(request.token.as_ref())?;
        let client = session.client(&run).await?;
        let account_groups_asked = session.account_groups_on && run.account_groups_selected();
        let page = |approvals: bool| {
            let client: CoupaClient = client.clone();
            async move {
                client
                    .users()
                    .fields(user_fields(account_groups_asked, approvals))
                    .limit(PAGE_SIZE)
                    .offset(offset)
                    .page()
                    .await
            }
        };
        let mut warnings = Vec::new();
        let ask = run.approvals() != Some(Approvals::Absent);
        let users = match page(ask).await {
            // A release that does not know the keys may refuse a projection naming them: the
            // page is asked again without them, and the run goes on without approvals.
            Err(coupa_client::Error::Api(api)) if ask && api.status == 400 => {
                if run.note_approvals(Approvals::Absent) == Approvals::Available {
                    return Err(ConnectorError::fatal(format!(
                        "Coupa refused (HTTP 400) a users page naming approval-groups after \
                         earlier pages carried them: {api}"
                    )));
                }
                warnings.extend(run.approvals_warning(no_approvals(
                    "Coupa refused a users listing that names approval-groups and the approval \
                     limits (HTTP 400), as a release without them does",
                )));
                page(false).await
            }
            other => other,
        }
        .map_err(to_connector)?;
        let row_ids: Vec<i64> = users.iter().map(|u| u.id).collect();
        run.pages.check(ids::USER, offset, &row_ids)?;
        let account_groups = matches!(
            session.account_groups(&run).await?,
            AccountGroups::Available(_)
        );
        let roles_from_users = matches!(session.roles(&run).await?, Roles::FromUsers);
        let approvals = match run.approvals() {
            Some(known) => known,
            None if users.is_empty() => Approvals::Absent,
            None => run.note_approvals(match carries_approvals(&users) {
                true => Approvals::Available,
                false => Approvals::Absent,
            }),
        };
        // Pages of one tenant agree: one that carries what an earlier page did not is not
        // dropped silently.
        if approvals == Approvals::Absent && ask && carries_approvals(&users) {
            return Err(ConnectorError::fatal(format!(
                "Coupa's users page at offset {offset} carries approval authority where an \
                 earlier page of this sync carried none; refusing to sync a part of it"
            )));
        }
        if approvals == Approvals::Absent && !users.is_empty() {
            warnings.extend(run.approvals_warning(no_approvals(
                "Coupa's user records carry neither approval-groups nor approval limits (an \
                 older release, or a profile that hides them)",
            )));
        }

        let mut grants = Vec::new();
        let mut roles = Vec::new();
        for user in &users {
            let principal = ids::user(user.id);
            for kind in Kind::ALL {
                let spec = kind.spec();
                if kind == Kind::AccountGroup && !account_groups {
                    continue;
                }
                for object in projected(user, spec.list)? {
                    let entitlement = ids::member_of(spec.type_id, object.id);
                    grants.push(Grant::new(entitlement, principal.clone()));
                }
            }
            for (license, held) in &user.licenses {
                if *held && License::ALL.contains(license) {
                    grants.push(Grant::new(ids::license(license), principal.clone()));
                }
            }
            if approvals == Approvals::Available {
                for group in projected(user, AccessList::ApprovalGroups)? {
                    grants.push(Grant::new(ids::approver_of(group.id), principal.clone()));
                }
            }
            if roles_from_users {
                let mut seen = run.roles_seen.lock().unwrap_or_else(|p| p.into_inner());
                for role in projected(user, AccessList::Roles)? {
                    if seen.insert(role.id) {
                        let name = role
                            .name
                            .clone()
                            .unwrap_or_else(|| format!("Role {}", role.id));
                        roles.push(Resource::new(
                            ResourceId::new(ids::ROLE, role.id.to_string()),
                            name,
                        ));
                    }
                }
            }
        }
        let role_entitlements: Vec<_> = roles
            .iter()
            .map(|r| member_entitlement(r.id.clone(), "Role"))
            .collect();
        let next = paging::next(offset, users.len(), request.parallelism);
        let mut page = Page::new(users.iter().map(user_resource).collect());
        for warning in warnings {
            page = page.with_warning(warning);
        }
        Ok(page
            .with_grants(grants)
            .with_resources(roles)
            .with_entitlements(role_entitlements)
            .with_next_tokens(next))
    }
}
