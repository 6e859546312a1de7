//! What the connector's parts share: the clients and per-user write locks ([`Session`], for the
//! connector's lifetime), and what one sync run decides ([`RunState`], for one run: which client
//! works, whether account groups and the roles endpoint are available, the roles already
//! emitted). Decisions are re-evaluated by every run, so a scope granted later is noticed.

use std::collections::HashSet;
use std::sync::Mutex;

use connector_sdk::ConnectorError;
use coupa_client::{AccessList, CoupaClient, Error as ClientError, OAuthError, scopes};
use coupa_client::{AccountGroup, Role};
use tokio::sync::OnceCell;

use crate::errors::to_connector;
use crate::kinds::{account_group_fields, role_fields};
use crate::paging::PAGE_SIZE;

/// The client that authenticated, and the scopes its token was granted when Coupa said.
#[derive(Debug, Clone)]
pub(crate) struct Active {
    pub(crate) client: CoupaClient,
    pub(crate) scopes: Option<Vec<String>>,
    /// Why account groups are off, when the token request itself ruled them out.
    pub(crate) accounting_refused: Option<String>,
}

/// Whether account groups can be synced; the first page, taken by the account-group syncer.
#[derive(Debug)]
pub(crate) enum AccountGroups {
    Available(Mutex<Option<Vec<AccountGroup>>>),
    Unavailable(String),
}

/// Whether `GET /api/roles` is served; the first page, taken by the role syncer.
#[derive(Debug)]
pub(crate) enum Roles {
    Endpoint(Mutex<Option<Vec<Role>>>),
    FromUsers,
}

/// What one sync run decides once and shares across its syncer calls. Lives in the SDK's
/// per-run context, so two runs never share it and a resume starts from nothing.
#[derive(Debug, Default)]
pub(crate) struct RunState {
    active: OnceCell<Active>,
    account_groups: OnceCell<AccountGroups>,
    roles: OnceCell<Roles>,
    /// Roles already emitted from user rows in this run.
    pub(crate) roles_seen: Mutex<HashSet<i64>>,
    /// The id ranges of the offset pages fetched in this run.
    pub(crate) pages: crate::paging::OffsetGuard,
    /// Whether the run syncs account groups (a host may select the types it syncs).
    account_groups_selected: std::sync::OnceLock<bool>,
    /// Whether this tenant's user records carry approval authority, once a users page said.
    approvals: std::sync::OnceLock<Approvals>,
    /// Whether the warning that they do not was given (once per run).
    approvals_warned: std::sync::atomic::AtomicBool,
}

/// Whether a tenant's user records carry approval authority (`approval-groups`, the approval
/// limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Approvals {
    /// They do: every projected record must carry `approval-groups`.
    Available,
    /// They do not (the keys are absent, or Coupa refused a projection naming them): users are
    /// synced without them, with one warning.
    Absent,
}

impl RunState {
    /// Notes which types the run syncs; the first call of the run decides.
    pub(crate) fn note_selection(&self, run: &connector_sdk::RunContext) {
        let selected = run.syncs(&connector_sdk::ResourceTypeId::new(
            crate::ids::ACCOUNT_GROUP,
        ));
        let _ = self.account_groups_selected.set(selected);
    }

    /// Whether the run syncs account groups.
    pub(crate) fn account_groups_selected(&self) -> bool {
        self.account_groups_selected.get().copied().unwrap_or(true)
    }

    /// What the run knows of approval authority: `None` until a users page said.
    pub(crate) fn approvals(&self) -> Option<Approvals> {
        self.approvals.get().copied()
    }

    /// Records what a users page said; the first page to say decides for the run.
    pub(crate) fn note_approvals(&self, approvals: Approvals) -> Approvals {
        *self.approvals.get_or_init(|| approvals)
    }

    /// `warning` the first time it is asked for in this run, `None` afterwards.
    pub(crate) fn approvals_warning(&self, warning: String) -> Option<String> {
        let first = !self
            .approvals_warned
            .swap(true, std::sync::atomic::Ordering::SeqCst);
        first.then_some(warning)
    }
}

#[derive(Debug)]
pub(crate) struct Session {
    primary: CoupaClient,
    /// A client with the write scopes, for provisioning only: a sync never needs them, and an
    /// OAuth client without them still syncs.
    writer: CoupaClient,
    writer_ready: OnceCell<()>,
    /// The write client that also asks for `core.accounting.read`, for account-group writes
    /// (reading a user's account groups may need it). `None` with account groups off.
    accounting_writer: Option<CoupaClient>,
    accounting_writer_ready: OnceCell<()>,
    /// Access lists this tenant was seen to only grow on a write (a shorter list kept the
    /// removed id): their removals go straight to clear-then-set.
    grows_only: Mutex<HashSet<AccessList>>,
    /// The same configuration without `core.accounting.read`, for clients not granted it.
    fallback: Option<CoupaClient>,
    pub(crate) account_groups_on: bool,
    /// Per-user write locks.
    pub(crate) locks: crate::provision::UserLocks,
}

fn missing_scope_warning(detail: &str) -> String {
    format!(
        "account groups skipped: {detail}; grant the OAuth client the scope `{}` to sync them",
        scopes::ACCOUNTING_READ
    )
}

impl Session {
    pub(crate) fn new(
        primary: CoupaClient,
        fallback: Option<CoupaClient>,
        writer: CoupaClient,
        accounting_writer: Option<CoupaClient>,
    ) -> Self {
        let account_groups_on = accounting_writer.is_some();
        Self {
            primary,
            writer,
            writer_ready: OnceCell::new(),
            accounting_writer,
            accounting_writer_ready: OnceCell::new(),
            grows_only: Mutex::new(HashSet::new()),
            fallback,
            account_groups_on,
            locks: crate::provision::UserLocks::default(),
        }
    }

    /// The configured client (it may not be the one in use).
    pub(crate) fn primary(&self) -> &CoupaClient {
        &self.primary
    }

    /// The client for writes, once its token is known to carry `core.user.write`; with
    /// `accounting`, the one that also asks for `core.accounting.read` (account-group writes).
    pub(crate) async fn writer(&self, accounting: bool) -> Result<&CoupaClient, ConnectorError> {
        let (client, ready) = match (&self.accounting_writer, accounting) {
            (Some(client), true) => (client, &self.accounting_writer_ready),
            _ => (&self.writer, &self.writer_ready),
        };
        let unavailable = |detail: &str| {
            let mut wanted: Vec<&str> = scopes::WRITE.to_vec();
            if accounting {
                wanted.push(scopes::ACCOUNTING_READ);
            }
            ConnectorError::permission_denied(format!(
                "provisioning unavailable: {detail}; grant the OAuth client `{}`",
                wanted.join(" ")
            ))
        };
        ready
            .get_or_try_init(|| async {
                match client.granted_scopes().await {
                    Ok(Some(granted)) if !granted.iter().any(|s| s == "core.user.write") => Err(
                        unavailable("the token was granted without `core.user.write`"),
                    ),
                    Ok(_) => Ok(()),
                    Err(ClientError::Auth {
                        code: Some(OAuthError::InvalidScope),
                        ..
                    }) => Err(unavailable("the token endpoint refused the scopes")),
                    Err(e) => Err(to_connector(e)),
                }
            })
            .await?;
        Ok(client)
    }

    /// Whether `list` was seen to only grow on a write in this tenant.
    pub(crate) fn grows_only(&self, list: AccessList) -> bool {
        self.grows_only
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&list)
    }

    /// Remembers that `list` only grows on a write.
    pub(crate) fn remember_grows_only(&self, list: AccessList) {
        self.grows_only
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(list);
    }

    /// The client in use: the configured one, or the one without the accounting scope when
    /// the token endpoint refused that scope.
    pub(crate) async fn active<'a>(&self, run: &'a RunState) -> Result<&'a Active, ConnectorError> {
        run.active
            .get_or_try_init(|| async {
                // A run that does not sync account groups never asks for their scope.
                if let Some(fallback) = self
                    .fallback
                    .as_ref()
                    .filter(|_| !run.account_groups_selected())
                {
                    return Ok(Active {
                        client: fallback.clone(),
                        scopes: fallback.granted_scopes().await.map_err(to_connector)?,
                        accounting_refused: None,
                    });
                }
                match self.primary.granted_scopes().await {
                    Ok(scopes) => Ok(Active {
                        client: self.primary.clone(),
                        scopes,
                        accounting_refused: None,
                    }),
                    Err(ClientError::Auth {
                        code: Some(OAuthError::InvalidScope),
                        ..
                    }) if self.fallback.is_some() => {
                        let client = self
                            .fallback
                            .clone()
                            .unwrap_or_else(|| self.primary.clone());
                        let scopes = client.granted_scopes().await.map_err(to_connector)?;
                        Ok(Active {
                            client,
                            scopes,
                            accounting_refused: Some(
                                "the token endpoint refused the scope (invalid_scope)".into(),
                            ),
                        })
                    }
                    Err(e) => Err(to_connector(e)),
                }
            })
            .await
    }

    /// The client in use in `run`.
    pub(crate) async fn client<'a>(
        &self,
        run: &'a RunState,
    ) -> Result<&'a CoupaClient, ConnectorError> {
        Ok(&self.active(run).await?.client)
    }

    /// Whether account groups are synced, decided once per run: off by configuration, off when
    /// the token lacks the scope, else by the first page of the listing (403: off).
    pub(crate) async fn account_groups<'a>(
        &self,
        run: &'a RunState,
    ) -> Result<&'a AccountGroups, ConnectorError> {
        run.account_groups
            .get_or_try_init(|| async {
                if !self.account_groups_on {
                    return Ok(AccountGroups::Unavailable(
                        "account groups are turned off in the configuration".into(),
                    ));
                }
                if !run.account_groups_selected() {
                    return Ok(AccountGroups::Unavailable(
                        "account groups are not among the resource types this sync selected"
                            .into(),
                    ));
                }
                let active = self.active(run).await?;
                if let Some(reason) = &active.accounting_refused {
                    return Ok(AccountGroups::Unavailable(missing_scope_warning(reason)));
                }
                if let Some(scopes) = &active.scopes
                    && !scopes.iter().any(|s| s == scopes::ACCOUNTING_READ)
                {
                    return Ok(AccountGroups::Unavailable(missing_scope_warning(
                        "the token was granted without it",
                    )));
                }
                let first = active
                    .client
                    .account_groups()
                    .fields(account_group_fields())
                    .limit(PAGE_SIZE)
                    .offset(0)
                    .page()
                    .await;
                match first {
                    Ok(rows) => Ok(AccountGroups::Available(Mutex::new(Some(rows)))),
                    Err(ClientError::Forbidden { .. }) => Ok(AccountGroups::Unavailable(
                        missing_scope_warning("Coupa answered 403 to GET /api/account_groups"),
                    )),
                    Err(ClientError::NotFound { .. }) => Ok(AccountGroups::Unavailable(
                        "account groups skipped: this tenant does not serve GET /api/account_groups \
                         (404)"
                            .into(),
                    )),
                    Err(e) => Err(to_connector(e)),
                }
            })
            .await
    }

    /// Whether `GET /api/roles` is served, decided once per run by its first page (404: roles
    /// come from user rows).
    pub(crate) async fn roles<'a>(&self, run: &'a RunState) -> Result<&'a Roles, ConnectorError> {
        run.roles
            .get_or_try_init(|| async {
                let client = self.client(run).await?;
                let first = client
                    .roles()
                    .fields(role_fields())
                    .limit(PAGE_SIZE)
                    .offset(0)
                    .page()
                    .await;
                match first {
                    Ok(rows) => Ok(Roles::Endpoint(Mutex::new(Some(rows)))),
                    Err(ClientError::NotFound { .. }) => Ok(Roles::FromUsers),
                    Err(e) => Err(to_connector(e)),
                }
            })
            .await
    }
}
