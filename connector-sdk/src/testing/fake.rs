//! A fake connector for tests of hosts and of the SDK itself: a synthetic tenant with every
//! paging shape the engine supports, its ground truth, and fault switches (failures at a chosen
//! call, fatal errors, rate limits, transient errors, slow calls, failing writes, a paging bug).
//! Generic code (a store, an exporter, a service) is tested with it, not with a real connector.
//!
//! * `user`: offset pages handing out several tokens at once; each user row carries its `role`
//!   grant (grants discovered while listing). User `u` is `User u`, login `uu`, primary email
//!   `uu@example.com`, profile `title` (`Title u`), `department` (`Sales`), `seniority` (`u % 5`).
//! * `role`: one page; the `member` entitlements ride on the list page.
//! * `group`: token-chained pages; per-resource `member` entitlement and paged grants.
//! * `project`: children of even groups only (not listed at the top level).
//!
//! [`Shape::memberships_per_user`] switches to the bulk shape the scale benchmarks ingest: every
//! syncer list-only, group memberships riding on user rows, group entitlements on the group
//! list page, no projects.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use crate::{
    Action, ActionRequest, ActionResult, ActionSchema, Annotation, Connector, ConnectorError,
    ConnectorMetadata, Entitlement, EntitlementId, ErrorKind, FieldKind, FieldSpec, Grant,
    GrantOutcome, GrantRequest, ListRequest, OffsetLanes, Page, PageToken, Provisioner, Purpose,
    Registry, Resource, ResourceId, ResourceRequest, ResourceStatus, ResourceSyncer, ResourceTrait,
    ResourceType, ResourceTypeId, RevokeOutcome, RevokeRequest, SyncerOptions, UserTrait,
};

/// The size of the fake tenant.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Users (`user:1` ..).
    pub users: u32,
    /// Groups (`group:1` ..); each even group has two projects.
    pub groups: u32,
    /// Rows per page.
    pub page_size: u32,
    /// The bulk shape: user `u` is a member of this many groups (`(u + k) % groups + 1` for
    /// `k` below it), listed on the user's row; groups are list-only with their entitlements
    /// on the page and have no projects. `None`: the default shape, where user `u` is a member
    /// of group `g` when `u + g` is a multiple of 3 and groups page their grants.
    pub memberships_per_user: Option<u32>,
}

impl Shape {
    /// The bulk shape of `users` users and `groups` groups, each user in `per_user` groups,
    /// `page_size` rows per page.
    pub fn bulk(users: u32, groups: u32, per_user: u32, page_size: u32) -> Self {
        Self {
            users,
            groups,
            page_size,
            memberships_per_user: Some(per_user),
        }
    }

    /// Resources in all.
    pub fn resource_count(&self) -> u64 {
        let projects = match self.memberships_per_user {
            Some(_) => 0,
            None => 2 * (self.groups / 2),
        };
        u64::from(self.users) + 2 + u64::from(self.groups) + u64::from(projects)
    }
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            users: 23,
            groups: 5,
            page_size: 4,
            memberships_per_user: None,
        }
    }
}

/// Fault switches and counters shared by every syncer.
#[derive(Debug, Default)]
pub struct Faults {
    /// Syncer calls made so far.
    pub calls: AtomicUsize,
    /// Fail at this call number (1-based) with an error the engine does not retry but that
    /// leaves the run resumable: a "kill" at that page.
    pub fail_at: Mutex<Option<usize>>,
    /// Fail fatally (not resumable) at this call number.
    pub fatal_at: Mutex<Option<usize>>,
    /// Fail the first N calls transiently.
    pub transient: AtomicUsize,
    /// Rate-limit the first N calls.
    pub rate_limited: AtomicUsize,
    /// Make the group listing repeat its token.
    pub loop_bug: std::sync::atomic::AtomicBool,
    /// Fail `grants` of this group with NotFound.
    pub missing_group: Mutex<Option<u32>>,
    /// Per-call latency.
    pub delay: Mutex<Option<Duration>>,
    /// Syncer calls in flight now.
    pub in_flight: AtomicUsize,
    /// The most syncer calls that were in flight at once.
    pub max_in_flight: AtomicUsize,
    /// Memberships removed by provisioning or by a test: (group, user).
    pub removed: Mutex<BTreeSet<(u32, u32)>>,
    /// Memberships added by provisioning or by a test: (group, user).
    pub added: Mutex<BTreeSet<(u32, u32)>>,
    /// Action calls that reached the connector.
    pub action_calls: AtomicUsize,
    /// Fail the next N grants or revokes with an unavailable upstream, writing nothing.
    pub failing_writes: AtomicUsize,
    /// How long each grant or revoke takes before it applies (a slow upstream write).
    pub write_delay: Mutex<Option<Duration>>,
}

impl Faults {
    async fn enter(&self) -> Result<Guard<'_>, ConnectorError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let guard = Guard(self);
        let delay = *self.delay.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        if *self.fail_at.lock().unwrap_or_else(PoisonError::into_inner) == Some(n) {
            return Err(ConnectorError::new(
                ErrorKind::RetriedByConnector,
                format!("killed at call {n}"),
            ));
        }
        if *self.fatal_at.lock().unwrap_or_else(PoisonError::into_inner) == Some(n) {
            return Err(ConnectorError::fatal(format!("broken at call {n}")));
        }
        if take_one(&self.rate_limited) {
            return Err(ConnectorError::rate_limited(Some(Duration::from_millis(5))));
        }
        if take_one(&self.transient) {
            return Err(ConnectorError::new(ErrorKind::Transient, "upstream 503"));
        }
        Ok(guard)
    }
}

impl Faults {
    /// A write: fails while `failing_writes` lasts.
    fn write(&self) -> Result<(), ConnectorError> {
        if take_one(&self.failing_writes) {
            return Err(ConnectorError::new(
                ErrorKind::RetriedByConnector,
                "the upstream refused the write (fault)",
            ));
        }
        Ok(())
    }

    /// Waits out `write_delay`, when set.
    async fn slow_write(&self) {
        let delay = *self
            .write_delay
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
    }
}

fn take_one(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

struct Guard<'a>(&'a Faults);

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The fake tenant: its shape, its fault switches, and its ground truth. Cheap to clone; clones
/// share the switches and the memberships.
#[derive(Debug, Clone)]
pub struct FakeTenant {
    /// The size.
    pub shape: Shape,
    /// The fault switches and counters.
    pub faults: Arc<Faults>,
}

impl FakeTenant {
    /// A tenant of `shape` with no fault switched on.
    pub fn new(shape: Shape) -> Self {
        Self {
            shape,
            faults: Arc::new(Faults::default()),
        }
    }

    /// Whether `user` is a member of `group` now.
    pub fn is_member(&self, group: u32, user: u32) -> bool {
        let base = self.base_member(group, user);
        let removed = self
            .faults
            .removed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&(group, user));
        let added = self
            .faults
            .added
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&(group, user));
        (base && !removed) || added
    }

    /// Whether `user` is a member of `group` before any change.
    fn base_member(&self, group: u32, user: u32) -> bool {
        let groups = self.shape.groups;
        match self.shape.memberships_per_user {
            Some(n) if (1..=groups).contains(&group) => {
                (group - 1 + groups - user % groups) % groups < n.min(groups)
            }
            Some(_) => false,
            None => (user + group).is_multiple_of(3),
        }
    }

    /// The groups `user` is a member of now, for the bulk shape's user rows.
    fn groups_of(&self, user: u32, n: u32) -> Vec<u32> {
        let groups = self.shape.groups;
        let removed = self
            .faults
            .removed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let added = self
            .faults
            .added
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<u32> = (0..n.min(groups))
            .map(|k| (user + k) % groups + 1)
            .filter(|g| !removed.contains(&(*g, user)))
            .collect();
        let extra: Vec<u32> = added
            .iter()
            .filter(|(g, u)| *u == user && !out.contains(g))
            .map(|(g, _)| *g)
            .collect();
        out.extend(extra);
        out
    }

    /// The members of `group` now, in id order.
    pub fn members(&self, group: u32) -> Vec<u32> {
        (1..=self.shape.users)
            .filter(|u| self.is_member(group, *u))
            .collect()
    }

    /// The role `user` holds (1 or 2).
    pub fn role_of(user: u32) -> u32 {
        user % 2 + 1
    }

    /// Every grant id of the tenant, as strings.
    pub fn expected_grants(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for u in 1..=self.shape.users {
            out.insert(format!("role:{}:member:user:{u}", Self::role_of(u)));
        }
        for g in 1..=self.shape.groups {
            for u in self.members(g) {
                out.insert(format!("group:{g}:member:user:{u}"));
            }
        }
        out
    }

    /// Every resource id of the tenant, as strings.
    pub fn expected_resources(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for u in 1..=self.shape.users {
            out.insert(format!("user:{u}"));
        }
        for r in 1..=2 {
            out.insert(format!("role:{r}"));
        }
        for g in 1..=self.shape.groups {
            out.insert(format!("group:{g}"));
            if g.is_multiple_of(2) && self.shape.memberships_per_user.is_none() {
                out.insert(format!("project:{g}-a"));
                out.insert(format!("project:{g}-b"));
            }
        }
        out
    }

    /// The registration, its tenant named `fake`.
    pub fn registry(&self) -> Registry {
        self.registry_for("fake")
    }

    /// The registration, with the connector reporting `fingerprint` as its tenant (the part
    /// `tenant` of its fingerprint).
    pub fn registry_for(&self, fingerprint: &str) -> Registry {
        Registry::builder(
            ConnectorMetadata::new(
                "synth",
                "Synthetic",
                "A synthetic directory for engine tests",
            ),
            Synth(fingerprint.to_owned()),
        )
        .syncer(Users(self.clone()))
        .syncer(Roles(self.clone()))
        .syncer(Groups(self.clone()))
        .syncer(Projects(self.clone()))
        .provisioner("group", GroupProvisioner(self.clone()))
        .action(Touch(self.clone()))
        .build()
        .expect("valid registration")
    }
}

fn offset(token: Option<&PageToken>) -> Result<u32, ConnectorError> {
    let offset = PageToken::parse_offset(token)?;
    u32::try_from(offset)
        .map_err(|_| ConnectorError::invalid_argument(format!("offset {offset} is too large")))
}

struct Synth(String);

#[async_trait]
impl Connector for Synth {
    fn fingerprint(&self) -> crate::Fingerprint {
        crate::Fingerprint::new("tenant", &self.0)
    }
}

struct Users(FakeTenant);

#[async_trait]
impl ResourceSyncer for Users {
    fn resource_type(&self) -> ResourceType {
        ResourceType::new("user", "User", [ResourceTrait::User])
    }

    fn options(&self) -> SyncerOptions {
        SyncerOptions::list_only()
    }

    async fn list(&self, request: ListRequest) -> Result<Page<Resource>, ConnectorError> {
        let _guard = self.0.faults.enter().await?;
        let size = self.0.shape.page_size;
        let start = offset(request.token.as_ref())?;
        let ids: Vec<u32> = (start + 1..=self.0.shape.users)
            .take(size as usize)
            .collect();
        let users = ids.iter().map(|u| {
            Resource::new(ResourceId::new("user", u.to_string()), format!("User {u}"))
                .with_status(ResourceStatus::Enabled)
                .with_profile("title", format!("Title {u}"))
                .with_profile("department", "Sales")
                .with_profile("seniority", u % 5)
                .with_user(
                    UserTrait::new()
                        .with_login(format!("u{u}"))
                        .with_email(format!("u{u}@example.com"), true),
                )
        });
        let mut grants: Vec<Grant> = Vec::new();
        for u in &ids {
            let user = ResourceId::new("user", u.to_string());
            let role = ResourceId::new("role", FakeTenant::role_of(*u).to_string());
            grants.push(Grant::new(EntitlementId::new(role, "member"), user.clone()));
            if let Some(n) = self.0.shape.memberships_per_user {
                for g in self.0.groups_of(*u, n) {
                    let group = ResourceId::new("group", g.to_string());
                    grants.push(Grant::new(
                        EntitlementId::new(group, "member"),
                        user.clone(),
                    ));
                }
            }
        }
        let mut page = Page::new(users.collect()).with_grants(grants);
        page = page.with_next_tokens(OffsetLanes::new(u64::from(size)).next(
            u64::from(start),
            ids.len(),
            request.parallelism,
        ));
        Ok(page)
    }
}

struct Roles(FakeTenant);

#[async_trait]
impl ResourceSyncer for Roles {
    fn resource_type(&self) -> ResourceType {
        ResourceType::new("role", "Role", [ResourceTrait::Role])
    }

    fn options(&self) -> SyncerOptions {
        SyncerOptions::list_only()
    }

    async fn list(&self, _request: ListRequest) -> Result<Page<Resource>, ConnectorError> {
        let _guard = self.0.faults.enter().await?;
        let roles: Vec<Resource> = (1..=2)
            .map(|r| Resource::new(ResourceId::new("role", r.to_string()), format!("Role {r}")))
            .collect();
        let entitlements: Vec<Entitlement> = roles
            .iter()
            .map(|r| member_entitlement(r.id.clone()))
            .collect();
        Ok(Page::new(roles).with_entitlements(entitlements))
    }
}

/// The `member` entitlement of `resource`, grantable to users.
pub fn member_entitlement(resource: ResourceId) -> Entitlement {
    Entitlement::new(
        resource,
        "member",
        "Member",
        Purpose::Assignment,
        [ResourceTypeId::new("user")],
    )
}

struct Groups(FakeTenant);

#[async_trait]
impl ResourceSyncer for Groups {
    fn resource_type(&self) -> ResourceType {
        ResourceType::new("group", "Group", [ResourceTrait::Group])
    }

    fn options(&self) -> SyncerOptions {
        match self.0.shape.memberships_per_user {
            Some(_) => SyncerOptions::list_only(),
            None => SyncerOptions::per_resource(),
        }
    }

    async fn list(&self, request: ListRequest) -> Result<Page<Resource>, ConnectorError> {
        let _guard = self.0.faults.enter().await?;
        if self.0.faults.loop_bug.load(Ordering::SeqCst) {
            return Ok(Page::new(Vec::new()).with_next(PageToken::new("same")));
        }
        let start = offset(request.token.as_ref())?;
        let size = self.0.shape.page_size;
        let bulk = self.0.shape.memberships_per_user.is_some();
        let groups: Vec<Resource> = (start + 1..=self.0.shape.groups)
            .take(size as usize)
            .map(|g| {
                let r = Resource::new(
                    ResourceId::new("group", g.to_string()),
                    format!("Group {g}"),
                );
                if g.is_multiple_of(2) && !bulk {
                    r.with_annotation(Annotation::ChildResourceType {
                        resource_type: ResourceTypeId::new("project"),
                    })
                } else {
                    r
                }
            })
            .collect();
        let full = groups.len() as u32 == size;
        let entitlements: Vec<Entitlement> = if bulk {
            groups
                .iter()
                .map(|g| member_entitlement(g.id.clone()))
                .collect()
        } else {
            Vec::new()
        };
        let mut page = Page::new(groups).with_entitlements(entitlements);
        if full {
            page = page.with_next(PageToken::offset(u64::from(start + size)));
        }
        Ok(page)
    }

    async fn entitlements(
        &self,
        request: ResourceRequest,
    ) -> Result<Page<Entitlement>, ConnectorError> {
        let _guard = self.0.faults.enter().await?;
        Ok(Page::new(vec![member_entitlement(request.resource)]))
    }

    async fn grants(&self, request: ResourceRequest) -> Result<Page<Grant>, ConnectorError> {
        let _guard = self.0.faults.enter().await?;
        let group: u32 = request
            .resource
            .id
            .parse()
            .map_err(|_| ConnectorError::not_found(request.resource.to_string()))?;
        if *self
            .0
            .faults
            .missing_group
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            == Some(group)
        {
            return Err(ConnectorError::not_found(format!("group {group}")));
        }
        // Members page by keyset (the members after the last one seen), the other listings by
        // offset: the engine tests cover both of the SDK's token helpers.
        let after = PageToken::parse_keyset::<u32>(request.token.as_ref())?;
        let size = self.0.shape.page_size;
        let members: Vec<u32> = self
            .0
            .members(group)
            .into_iter()
            .filter(|u| after.is_none_or(|a| *u > a))
            .take(size as usize)
            .collect();
        let ent = EntitlementId::new(request.resource.clone(), "member");
        let last = members
            .last()
            .copied()
            .filter(|_| members.len() as u32 == size);
        let mut page = Page::new(
            members
                .into_iter()
                .map(|u| Grant::new(ent.clone(), ResourceId::new("user", u.to_string())))
                .collect(),
        );
        if let Some(last) = last {
            page = page.with_next(PageToken::keyset(last));
        }
        Ok(page)
    }
}

struct Projects(FakeTenant);

#[async_trait]
impl ResourceSyncer for Projects {
    fn resource_type(&self) -> ResourceType {
        ResourceType::new("project", "Project", [ResourceTrait::App])
    }

    fn options(&self) -> SyncerOptions {
        SyncerOptions::list_only().with_top_level(false)
    }

    async fn list(&self, request: ListRequest) -> Result<Page<Resource>, ConnectorError> {
        let _guard = self.0.faults.enter().await?;
        let parent = request
            .parent
            .ok_or_else(|| ConnectorError::fatal("projects are listed under a group"))?;
        Ok(Page::new(
            ["a", "b"]
                .iter()
                .map(|s| {
                    Resource::new(
                        ResourceId::new("project", format!("{}-{s}", parent.id)),
                        format!("Project {s}"),
                    )
                })
                .collect(),
        ))
    }
}

struct GroupProvisioner(FakeTenant);

fn ids(principal: &ResourceId, entitlement: &EntitlementId) -> Result<(u32, u32), ConnectorError> {
    let user = principal
        .id
        .parse()
        .map_err(|_| ConnectorError::not_found(principal.to_string()))?;
    let group = entitlement
        .resource
        .id
        .parse()
        .map_err(|_| ConnectorError::not_found(entitlement.to_string()))?;
    Ok((group, user))
}

#[async_trait]
impl Provisioner for GroupProvisioner {
    async fn grant(&self, request: GrantRequest) -> Result<GrantOutcome, ConnectorError> {
        let (g, u) = ids(&request.principal, &request.entitlement)?;
        self.0.faults.write()?;
        self.0.faults.slow_write().await;
        if self.0.is_member(g, u) {
            return Ok(GrantOutcome::AlreadyGranted);
        }
        self.0
            .faults
            .removed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(g, u));
        self.0
            .faults
            .added
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((g, u));
        Ok(GrantOutcome::granted(vec![Grant::new(
            request.entitlement.clone(),
            request.principal.clone(),
        )]))
    }

    async fn revoke(&self, request: RevokeRequest) -> Result<RevokeOutcome, ConnectorError> {
        let (g, u) = ids(&request.grant.principal, &request.grant.entitlement)?;
        self.0.faults.write()?;
        self.0.faults.slow_write().await;
        if !self.0.is_member(g, u) {
            return Ok(RevokeOutcome::AlreadyRevoked);
        }
        self.0
            .faults
            .added
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(g, u));
        self.0
            .faults
            .removed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((g, u));
        Ok(RevokeOutcome::Revoked)
    }
}

struct Touch(FakeTenant);

#[async_trait]
impl Action for Touch {
    fn schema(&self) -> ActionSchema {
        ActionSchema::new(
            "touch_user",
            "Marks a user as touched",
            vec![
                FieldSpec::required("user_id", FieldKind::String, "The user's id"),
                FieldSpec::optional("force", FieldKind::Boolean, "Touch even if touched"),
            ],
        )
    }

    async fn run(&self, request: ActionRequest) -> Result<ActionResult, ConnectorError> {
        self.0.faults.action_calls.fetch_add(1, Ordering::SeqCst);
        let user_id = request.arguments.str("user_id").unwrap_or_default();
        ActionResult::new(&serde_json::json!({ "user_id": user_id }))
    }
}
