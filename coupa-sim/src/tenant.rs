//! The simulated tenant: users and the objects they hold, a deterministic generator, a small
//! fixture, and ground-truth accessors for tests.

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};

/// License flags the simulator serves, as dash keys (its own list: the simulator shares no code
/// with the client).
pub const LICENSE_KEYS: [&str; 19] = [
    "purchasing-user",
    "expense-user",
    "sourcing-user",
    "inventory-user",
    "contracts-user",
    "analytics-user",
    "aic-user",
    "spend-guard-user",
    "ccw-user",
    "clm-advanced-user",
    "supply-chain-user",
    "risk-assess-user",
    "travel-user",
    "treasury-user",
    "invoicing-user",
    "category-planner-user",
    "category-strategy-user",
    "intake-user",
    "coupa-navi-ai-agent-user",
];

/// A simulated user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimUser {
    /// Id.
    pub id: i64,
    /// Login (unique).
    pub login: String,
    /// Email (unique).
    pub email: String,
    /// First name.
    pub firstname: String,
    /// Last name.
    pub lastname: String,
    /// Employee number (unique when set).
    pub employee_number: Option<String>,
    /// Active.
    pub active: bool,
    /// License flags held (dash keys); absent flags are `false`.
    pub licenses: BTreeSet<String>,
    /// Role ids.
    pub roles: BTreeSet<i64>,
    /// User-group ids.
    pub user_groups: BTreeSet<i64>,
    /// Account-group ids.
    pub account_groups: BTreeSet<i64>,
    /// Content-group ids.
    pub content_groups: BTreeSet<i64>,
    /// Ids of the user groups whose approver the user is (`approval-groups`).
    pub approval_groups: BTreeSet<i64>,
    /// Approval limits held, by record key (`requisition-approval-limit`, ...): the id of a
    /// shared record of [`Tenant::approval_limits`]. A key not here is served as `null`.
    pub approval_limits: BTreeMap<String, i64>,
    /// Last change, as an ISO 8601 timestamp.
    pub updated_at: String,
}

impl SimUser {
    /// A user with the required fields, active, holding nothing.
    pub fn new(id: i64, login: &str, firstname: &str, lastname: &str) -> Self {
        Self {
            id,
            login: login.to_owned(),
            email: format!("{login}@example.com"),
            firstname: firstname.to_owned(),
            lastname: lastname.to_owned(),
            employee_number: Some(format!("E{id:06}")),
            active: true,
            licenses: BTreeSet::new(),
            roles: BTreeSet::new(),
            user_groups: BTreeSet::new(),
            account_groups: BTreeSet::new(),
            content_groups: BTreeSet::new(),
            approval_groups: BTreeSet::new(),
            approval_limits: BTreeMap::new(),
            updated_at: "2024-01-01T00:00:00+00:00".to_owned(),
        }
    }
}

/// A named object: a user group, role, account group or content group.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Named {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// A user group's `can-approve` (served for user groups only).
    pub can_approve: bool,
}

impl Named {
    /// An object with an id and name.
    pub fn new(id: i64, name: &str) -> Self {
        Self {
            id,
            name: name.to_owned(),
            description: format!("{name} (simulated)"),
            can_approve: false,
        }
    }
}

/// The keys of the eight approval limits of a user record.
pub const APPROVAL_LIMIT_KEYS: [&str; 8] = [
    "requisition-approval-limit",
    "requisition-self-approval-limit",
    "expense-approval-limit",
    "expense-self-approval-limit",
    "invoice-approval-limit",
    "invoice-self-approval-limit",
    "contract-approval-limit",
    "contract-self-approval-limit",
];

/// An approval limit record, shared by the users (and limits) that point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApprovalLimit {
    /// Id.
    pub id: i64,
    /// The amount, a decimal string such as `5000.00`.
    pub amount: String,
    /// The currency code.
    pub currency: String,
    /// What it applies to, such as `requisition_header`.
    pub subject: String,
}

impl ApprovalLimit {
    /// A limit of `amount` in `currency`.
    pub fn new(id: i64, amount: &str, currency: &str, subject: &str) -> Self {
        Self {
            id,
            amount: amount.to_owned(),
            currency: currency.to_owned(),
            subject: subject.to_owned(),
        }
    }
}

/// Which access list of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum AccessList {
    /// `roles`
    Roles,
    /// `user-groups`
    UserGroups,
    /// `account-groups`
    AccountGroups,
    /// `content-groups`
    ContentGroups,
    /// `approval-groups` (user groups)
    ApprovalGroups,
}

impl AccessList {
    /// The JSON key.
    pub fn key(self) -> &'static str {
        match self {
            Self::Roles => "roles",
            Self::UserGroups => "user-groups",
            Self::AccountGroups => "account-groups",
            Self::ContentGroups => "content-groups",
            Self::ApprovalGroups => "approval-groups",
        }
    }

    /// All five lists.
    pub const ALL: [AccessList; 5] = [
        Self::Roles,
        Self::UserGroups,
        Self::AccountGroups,
        Self::ContentGroups,
        Self::ApprovalGroups,
    ];
}

/// The tenant's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tenant {
    /// Users by id.
    pub users: BTreeMap<i64, SimUser>,
    /// User groups by id.
    pub user_groups: BTreeMap<i64, Named>,
    /// Roles by id.
    pub roles: BTreeMap<i64, Named>,
    /// Account groups by id.
    pub account_groups: BTreeMap<i64, Named>,
    /// Content groups by id.
    pub content_groups: BTreeMap<i64, Named>,
    /// Approval limit records by id.
    pub approval_limits: BTreeMap<i64, ApprovalLimit>,
}

/// Sizes for [`Tenant::generate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sizes {
    /// Users.
    pub users: usize,
    /// User groups.
    pub user_groups: usize,
    /// Roles.
    pub roles: usize,
    /// Account groups.
    pub account_groups: usize,
    /// Content groups.
    pub content_groups: usize,
    /// User groups per user, on average.
    pub groups_per_user: usize,
    /// Roles per user, on average.
    pub roles_per_user: usize,
    /// Licenses per user, on average.
    pub licenses_per_user: usize,
}

impl Sizes {
    /// A tenant of `users` users with proportionate groups: each user in about 3 groups, 2
    /// roles, 2 licenses, 1 account group and 1 content group.
    pub fn users(users: usize) -> Self {
        Self {
            users,
            user_groups: (users / 20).clamp(5, 5_000),
            roles: 25,
            account_groups: (users / 100).clamp(3, 1_000),
            content_groups: (users / 200).clamp(3, 500),
            groups_per_user: 3,
            roles_per_user: 2,
            licenses_per_user: 2,
        }
    }
}

fn pick(rng: &mut StdRng, ids: &[i64], around: usize) -> BTreeSet<i64> {
    if ids.is_empty() {
        return BTreeSet::new();
    }
    // around-1, around or around+1, never more than there are.
    let n = (around + rng.random_range(0..3))
        .saturating_sub(1)
        .min(ids.len());
    sample(rng, ids.len(), n)
        .into_iter()
        .map(|i| ids[i])
        .collect()
}

impl Tenant {
    /// A deterministic tenant: the same seed and sizes always give the same tenant.
    pub fn generate(seed: u64, sizes: Sizes) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let named = |prefix: &str, n: usize, first: i64| -> BTreeMap<i64, Named> {
            (0..n as i64)
                .map(|i| {
                    (
                        first + i,
                        Named::new(first + i, &format!("{prefix} {}", i + 1)),
                    )
                })
                .collect()
        };
        let mut tenant = Tenant {
            approval_limits: BTreeMap::new(),
            users: BTreeMap::new(),
            user_groups: named("Group", sizes.user_groups, 1),
            roles: named("Role", sizes.roles, 1),
            account_groups: named("Account Group", sizes.account_groups, 1),
            content_groups: named("Content Group", sizes.content_groups, 1),
        };
        let ids = |m: &BTreeMap<i64, Named>| m.keys().copied().collect::<Vec<_>>();
        let (groups, roles) = (ids(&tenant.user_groups), ids(&tenant.roles));
        let (accounts, contents) = (ids(&tenant.account_groups), ids(&tenant.content_groups));
        for n in 0..sizes.users {
            // Ids start at 100 and leave gaps, as real tenants do.
            let id = 100 + n as i64 * 3 + rng.random_range(0..3);
            let mut user = SimUser::new(id, &format!("user{id}"), "Sim", &format!("User {id}"));
            user.active = rng.random_bool(0.9);
            user.roles = pick(&mut rng, &roles, sizes.roles_per_user);
            user.user_groups = pick(&mut rng, &groups, sizes.groups_per_user);
            user.account_groups = pick(&mut rng, &accounts, 1);
            user.content_groups = pick(&mut rng, &contents, 1);
            let license_count = (sizes.licenses_per_user + rng.random_range(0..3))
                .saturating_sub(1)
                .min(LICENSE_KEYS.len());
            user.licenses = sample(&mut rng, LICENSE_KEYS.len(), license_count)
                .into_iter()
                .map(|i| LICENSE_KEYS[i].to_owned())
                .collect();
            user.updated_at = format!("2024-{:02}-{:02}T10:00:00+00:00", 1 + n % 12, 1 + n % 28);
            tenant.users.insert(id, user);
        }
        tenant.add_approval_authority(seed);
        tenant
    }

    /// Approval authority for a generated tenant, from its own random stream (so the rest of a
    /// tenant of a given seed is what it was before approvals were simulated): a third of the
    /// user groups can approve; a user is the approver of about half of their groups that can;
    /// limits point at twelve shared records, a requisition limit for 60% of users, a
    /// self-approval one for 20%, an expense one for half, each other for a tenth.
    fn add_approval_authority(&mut self, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed ^ 0xA99_0A1);
        for group in self.user_groups.values_mut() {
            group.can_approve = rng.random_bool(1.0 / 3.0);
        }
        let amounts = [
            "500.00",
            "1000.00",
            "5000.00",
            "10000.00",
            "50000.00",
            "250000.00",
        ];
        for (i, (amount, currency)) in amounts
            .iter()
            .flat_map(|a| [(a, "USD"), (a, "EUR")])
            .enumerate()
        {
            let id = 30 + i as i64;
            self.approval_limits.insert(
                id,
                ApprovalLimit::new(id, amount, currency, "requisition_header"),
            );
        }
        let limits: Vec<i64> = self.approval_limits.keys().copied().collect();
        let approving: BTreeSet<i64> = self
            .user_groups
            .values()
            .filter(|g| g.can_approve)
            .map(|g| g.id)
            .collect();
        for user in self.users.values_mut() {
            user.approval_groups = user
                .user_groups
                .iter()
                .copied()
                .filter(|g| approving.contains(g) && rng.random_bool(0.5))
                .collect();
            for (key, odds) in APPROVAL_LIMIT_KEYS
                .iter()
                .zip([0.6, 0.2, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
            {
                if rng.random_bool(odds) {
                    let limit = limits[rng.random_range(0..limits.len())];
                    user.approval_limits.insert((*key).to_owned(), limit);
                }
            }
        }
    }

    /// A small hand-written tenant for readable tests:
    ///
    /// | user | login | active | roles | groups | account groups | content groups | licenses |
    /// |---|---|---|---|---|---|---|---|
    /// | 1 | `ada` | yes | Admin, User | Finance, Approvers | AP US | Everyone | purchasing, expense |
    /// | 2 | `grace` | yes | User | Finance | - | Everyone, EMEA | expense |
    /// | 3 | `alan` | no | User | - | AP EU | - | - |
    ///
    /// Roles: 1 Admin, 2 User, 3 Buyer. User groups: 10 Finance, 11 Approvers (can approve),
    /// 12 Empty. Account groups: 20 AP US, 21 AP EU. Content groups: 30 Everyone, 31 EMEA.
    ///
    /// Approval authority: `ada` is an approver of Approvers, with a requisition limit of
    /// 5000.00 USD (record 40) and a requisition self-approval limit of 500.00 USD (record 41);
    /// `grace` is an approver of Finance and Approvers, with the same requisition limit (record
    /// 40, shared) and an expense limit of 1000.00 EUR (record 42); `alan` has none.
    pub fn fixture() -> Self {
        let named = |items: &[(i64, &str)]| -> BTreeMap<i64, Named> {
            items
                .iter()
                .map(|(id, n)| (*id, Named::new(*id, n)))
                .collect()
        };
        let mut ada = SimUser::new(1, "ada", "Ada", "Lovelace");
        ada.roles = [1, 2].into();
        ada.user_groups = [10, 11].into();
        ada.account_groups = [20].into();
        ada.content_groups = [30].into();
        ada.licenses = ["purchasing-user".into(), "expense-user".into()].into();
        ada.approval_groups = [11].into();
        ada.approval_limits = [
            ("requisition-approval-limit".into(), 40),
            ("requisition-self-approval-limit".into(), 41),
        ]
        .into();
        let mut grace = SimUser::new(2, "grace", "Grace", "Hopper");
        grace.roles = [2].into();
        grace.user_groups = [10].into();
        grace.content_groups = [30, 31].into();
        grace.licenses = ["expense-user".into()].into();
        grace.approval_groups = [10, 11].into();
        grace.approval_limits = [
            ("requisition-approval-limit".into(), 40),
            ("expense-approval-limit".into(), 42),
        ]
        .into();
        let mut alan = SimUser::new(3, "alan", "Alan", "Turing");
        alan.active = false;
        alan.roles = [2].into();
        alan.account_groups = [21].into();
        let mut user_groups = named(&[(10, "Finance"), (11, "Approvers"), (12, "Empty")]);
        if let Some(approvers) = user_groups.get_mut(&11) {
            approvers.can_approve = true;
        }
        Tenant {
            users: [(1, ada), (2, grace), (3, alan)].into(),
            user_groups,
            roles: named(&[(1, "Admin"), (2, "User"), (3, "Buyer")]),
            account_groups: named(&[(20, "AP US"), (21, "AP EU")]),
            content_groups: named(&[(30, "Everyone"), (31, "EMEA")]),
            approval_limits: [
                ApprovalLimit::new(40, "5000.00", "USD", "requisition_header"),
                ApprovalLimit::new(41, "500.00", "USD", "requisition_header"),
                ApprovalLimit::new(42, "1000.00", "EUR", "expense_report"),
            ]
            .into_iter()
            .map(|l| (l.id, l))
            .collect(),
        }
    }

    /// The objects of one access list's kind.
    pub fn objects(&self, list: AccessList) -> &BTreeMap<i64, Named> {
        match list {
            AccessList::Roles => &self.roles,
            AccessList::UserGroups => &self.user_groups,
            AccessList::AccountGroups => &self.account_groups,
            AccessList::ContentGroups => &self.content_groups,
            AccessList::ApprovalGroups => &self.user_groups,
        }
    }

    /// The objects of one access list's kind, mutably.
    pub fn objects_mut(&mut self, list: AccessList) -> &mut BTreeMap<i64, Named> {
        match list {
            AccessList::Roles => &mut self.roles,
            AccessList::UserGroups => &mut self.user_groups,
            AccessList::AccountGroups => &mut self.account_groups,
            AccessList::ContentGroups => &mut self.content_groups,
            AccessList::ApprovalGroups => &mut self.user_groups,
        }
    }

    /// Ground truth: every `(user id, object id)` membership of one list, over the users for
    /// which `include` is true.
    pub fn memberships(
        &self,
        list: AccessList,
        include: impl Fn(&SimUser) -> bool,
    ) -> BTreeSet<(i64, i64)> {
        self.users
            .values()
            .filter(|u| include(u))
            .flat_map(|u| user_list(u, list).iter().map(move |o| (u.id, *o)))
            .collect()
    }

    /// Ground truth: every `(user id, license key)` held, over the users for which `include` is
    /// true.
    pub fn license_holders(&self, include: impl Fn(&SimUser) -> bool) -> BTreeSet<(i64, String)> {
        self.users
            .values()
            .filter(|u| include(u))
            .flat_map(|u| u.licenses.iter().map(move |l| (u.id, l.clone())))
            .collect()
    }

    /// The next free user id.
    pub fn next_user_id(&self) -> i64 {
        self.users.keys().next_back().map_or(1, |id| id + 1)
    }
}

/// One access list of a user.
pub fn user_list(user: &SimUser, list: AccessList) -> &BTreeSet<i64> {
    match list {
        AccessList::Roles => &user.roles,
        AccessList::UserGroups => &user.user_groups,
        AccessList::AccountGroups => &user.account_groups,
        AccessList::ContentGroups => &user.content_groups,
        AccessList::ApprovalGroups => &user.approval_groups,
    }
}

/// One access list of a user, mutably.
pub fn user_list_mut(user: &mut SimUser, list: AccessList) -> &mut BTreeSet<i64> {
    match list {
        AccessList::Roles => &mut user.roles,
        AccessList::UserGroups => &mut user.user_groups,
        AccessList::AccountGroups => &mut user.account_groups,
        AccessList::ContentGroups => &mut user.content_groups,
        AccessList::ApprovalGroups => &mut user.approval_groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic() {
        let a = Tenant::generate(7, Sizes::users(500));
        let b = Tenant::generate(7, Sizes::users(500));
        let c = Tenant::generate(8, Sizes::users(500));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.users.len(), 500);
        let groups = a.memberships(AccessList::UserGroups, |_| true).len() as f64 / 500.0;
        assert!((2.5..=3.5).contains(&groups), "{groups} groups per user");
        let roles = a.memberships(AccessList::Roles, |_| true).len() as f64 / 500.0;
        assert!((1.5..=2.5).contains(&roles), "{roles} roles per user");
        let licenses = a.license_holders(|_| true).len() as f64 / 500.0;
        assert!(
            (1.5..=2.5).contains(&licenses),
            "{licenses} licenses per user"
        );
    }
}
