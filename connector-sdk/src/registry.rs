//! [`Registry`]: what a connector registered, the dispatch of every capability call, and the
//! capability [`Manifest`] derived from the registration alone.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::capability::{
    AccountManager, Action, ActionRequest, ActionResult, ActionSchema, Arguments, CallContext,
    Connector, ConnectorMetadata, CreateAccountOutcome, CreateAccountRequest, FieldSpec,
    GrantOutcome, GrantRequest, Provisioner, ResourceSyncer, RevokeOutcome, RevokeRequest,
    SyncerOptions,
};
use crate::error::Error;
use crate::journal::{Journal, WriteJournal};
use crate::model::{ResourceTrait, ResourceType, ResourceTypeId};

pub(crate) struct RegisteredSyncer {
    pub(crate) resource_type: ResourceType,
    pub(crate) options: SyncerOptions,
    pub(crate) syncer: Arc<dyn ResourceSyncer>,
}

/// A connector with everything it registered. Cheap to clone; share one between the sync engine
/// and provisioning calls.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
    /// Where multi-request writes record their intent ([`Registry::with_journal`]).
    journal: Option<WriteJournal>,
}

struct Inner {
    connector: Arc<dyn Connector>,
    /// Whether what an earlier process learned was handed to the connector already.
    resumed_learned: std::sync::atomic::AtomicBool,
    metadata: ConnectorMetadata,
    syncers: BTreeMap<ResourceTypeId, RegisteredSyncer>,
    provisioners: BTreeMap<ResourceTypeId, Arc<dyn Provisioner>>,
    account_manager: Option<(Arc<dyn AccountManager>, Vec<FieldSpec>)>,
    actions: BTreeMap<String, (Arc<dyn Action>, ActionSchema)>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("connector", &self.inner.metadata.id)
            .field(
                "resource_types",
                &self.inner.syncers.keys().collect::<Vec<_>>(),
            )
            .field(
                "provisioners",
                &self.inner.provisioners.keys().collect::<Vec<_>>(),
            )
            .field("actions", &self.inner.actions.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Registers a connector's capabilities; see [`Registry::builder`].
pub struct RegistryBuilder {
    metadata: ConnectorMetadata,
    connector: Arc<dyn Connector>,
    syncers: Vec<Arc<dyn ResourceSyncer>>,
    provisioners: Vec<(ResourceTypeId, Arc<dyn Provisioner>)>,
    account_manager: Option<Arc<dyn AccountManager>>,
    actions: Vec<Arc<dyn Action>>,
}

impl Registry {
    /// Starts registering the capabilities of the connector `metadata` describes, configured as
    /// `connector` says (its fingerprint and validation).
    pub fn builder(
        metadata: ConnectorMetadata,
        connector: impl Connector + 'static,
    ) -> RegistryBuilder {
        RegistryBuilder {
            metadata,
            connector: Arc::new(connector),
            syncers: Vec::new(),
            provisioners: Vec::new(),
            account_manager: None,
            actions: Vec::new(),
        }
    }

    /// The same registration with `journal` as the write-ahead journal of its multi-request
    /// writes (see [`crate::journal`]): grants and revokes hand it to the connector, repair the
    /// principal's interrupted writes first, and [`Registry::repair`] finishes them all. A host
    /// that writes attaches its store here.
    pub fn with_journal(mut self, journal: Arc<dyn Journal>) -> Self {
        let bound = WriteJournal::new(journal, self.inner.metadata.id.clone(), self.fingerprint());
        self.journal = Some(bound);
        self
    }

    /// The attached journal, bound to this registration.
    pub fn journal(&self) -> Option<&WriteJournal> {
        self.journal.as_ref()
    }

    /// The connector's metadata.
    pub fn metadata(&self) -> &ConnectorMetadata {
        &self.inner.metadata
    }

    /// The fingerprint of a sync through this registration: the connector id (part
    /// `connector`), then what the connector says determines its output
    /// ([`Connector::fingerprint`]).
    pub fn fingerprint(&self) -> crate::Fingerprint {
        crate::Fingerprint::new("connector", &self.inner.metadata.id)
            .then(self.inner.connector.fingerprint())
    }

    /// Hands the connector what an earlier process learned of this tenant and kept in `store`
    /// ([`Connector::resume_learned`]), once per registration.
    pub(crate) async fn resume_learned(&self, store: &Arc<dyn crate::backend::WorkQueue>) {
        use std::sync::atomic::Ordering;
        if self.inner.resumed_learned.swap(true, Ordering::SeqCst) {
            return;
        }
        let (store, connector, fingerprint) = (
            Arc::clone(store),
            self.inner.metadata.id.clone(),
            self.fingerprint().encode(),
        );
        let kept =
            tokio::task::spawn_blocking(move || store.learned(&connector, &fingerprint)).await;
        match kept {
            Ok(Ok(Some((learned, at_ms)))) => {
                let age = crate::store::now_ms().saturating_sub(at_ms).max(0);
                let age = std::time::Duration::from_millis(u64::try_from(age).unwrap_or(0));
                self.inner.connector.resume_learned(&learned, age);
            }
            Ok(Ok(None)) => {}
            Ok(Err(error)) => tracing::warn!(error = %crate::error_chain(&error),
                "what an earlier process learned of the tenant could not be read"),
            Err(error) => tracing::warn!(%error, "reading what was learned stopped"),
        }
    }

    /// Keeps what the connector learned of this tenant in `store` ([`Connector::learned`]).
    pub(crate) async fn keep_learned(&self, store: &Arc<dyn crate::backend::WorkQueue>) {
        let Some(learned) = self.inner.connector.learned() else {
            return;
        };
        let (store, connector, fingerprint) = (
            Arc::clone(store),
            self.inner.metadata.id.clone(),
            self.fingerprint().encode(),
        );
        let kept = tokio::task::spawn_blocking(move || {
            store.set_learned(&connector, &fingerprint, &learned, crate::store::now_ms())
        })
        .await;
        if !matches!(kept, Ok(Ok(()))) {
            tracing::warn!("what the connector learned of the tenant could not be kept");
        }
    }

    /// The connector's own counters now ([`Connector::stats`]).
    pub fn stats(&self) -> Vec<crate::Stat> {
        self.inner.connector.stats()
    }

    /// The registered resource types, ordered by id.
    pub fn resource_types(&self) -> Vec<ResourceType> {
        self.inner
            .syncers
            .values()
            .map(|s| s.resource_type.clone())
            .collect()
    }

    pub(crate) fn syncer(&self, resource_type: &ResourceTypeId) -> Option<&RegisteredSyncer> {
        self.inner.syncers.get(resource_type)
    }

    pub(crate) fn syncers(&self) -> impl Iterator<Item = &RegisteredSyncer> {
        self.inner.syncers.values()
    }

    /// Proves the credentials work (one cheap real call); returns the connector's warnings.
    pub async fn validate(&self) -> Result<Vec<String>, Error> {
        self.inner
            .connector
            .validate()
            .await
            .map_err(|source| Error::Operation {
                operation: "validate".into(),
                source,
            })
    }

    pub(crate) fn provisioner(
        &self,
        resource_type: &ResourceTypeId,
    ) -> Result<&dyn Provisioner, Error> {
        self.inner
            .provisioners
            .get(resource_type)
            .map(|p| p.as_ref())
            .ok_or_else(|| Error::Unsupported {
                resource_type: resource_type.clone(),
                capability: "provisioner",
            })
    }

    /// The call context of a write: the caller's, with the attached journal.
    fn journaled(&self, context: CallContext) -> CallContext {
        match &self.journal {
            Some(journal) => context.with_journal(journal.clone()),
            None => context,
        }
    }

    /// Grants through the provisioner of the entitlement's resource type, after repairing any
    /// interrupted write to the principal.
    pub async fn grant(&self, mut request: GrantRequest) -> Result<GrantOutcome, Error> {
        let provisioner = self.provisioner(&request.entitlement.resource.resource_type)?;
        self.repair_principal(&request.principal).await?;
        request.context = self.journaled(request.context);
        let operation = format!("grant {} to {}", request.entitlement, request.principal);
        provisioner
            .grant(request)
            .await
            .map_err(|source| Error::Operation { operation, source })
    }

    /// Revokes through the provisioner of the grant's entitlement's resource type, after
    /// repairing any interrupted write to the principal.
    pub async fn revoke(&self, mut request: RevokeRequest) -> Result<RevokeOutcome, Error> {
        let provisioner = self.provisioner(&request.grant.entitlement.resource.resource_type)?;
        self.repair_principal(&request.grant.principal).await?;
        request.context = self.journaled(request.context);
        let operation = format!("revoke {}", request.grant.id());
        provisioner
            .revoke(request)
            .await
            .map_err(|source| Error::Operation { operation, source })
    }

    /// Validates `fields` against the account schema, then creates the account.
    pub async fn create_account(
        &self,
        fields: Map<String, Value>,
        context: CallContext,
    ) -> Result<CreateAccountOutcome, Error> {
        let (manager, schema) = self
            .inner
            .account_manager
            .as_ref()
            .ok_or(Error::AccountCreationUnsupported)?;
        let fields = Arguments::validate("create account", schema, fields)?;
        manager
            .create_account(CreateAccountRequest::new(fields, self.journaled(context)))
            .await
            .map_err(|source| Error::Operation {
                operation: "create account".into(),
                source,
            })
    }

    /// The declared actions, ordered by name.
    pub fn actions(&self) -> Vec<ActionSchema> {
        self.inner
            .actions
            .values()
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// Validates `arguments` against the action's schema, then runs it.
    pub async fn run_action(
        &self,
        name: &str,
        arguments: Map<String, Value>,
        context: CallContext,
    ) -> Result<ActionResult, Error> {
        let (action, schema) = self
            .inner
            .actions
            .get(name)
            .ok_or_else(|| Error::UnknownAction(name.to_owned()))?;
        let arguments =
            Arguments::validate(format!("action `{name}`"), &schema.arguments, arguments)?;
        action
            .run(ActionRequest::new(arguments, self.journaled(context)))
            .await
            .map_err(|source| Error::Operation {
                operation: format!("action `{name}`"),
                source,
            })
    }

    /// The capability manifest, derived from the registration alone (no credentials, no calls).
    pub fn manifest(&self) -> Manifest {
        let inner = &self.inner;
        Manifest {
            connector: inner.metadata.clone(),
            resource_types: inner
                .syncers
                .values()
                .map(|s| {
                    let mut capabilities = vec![Capability::Sync];
                    let provisioner = inner.provisioners.get(&s.resource_type.id);
                    if provisioner.is_some() {
                        capabilities.push(Capability::Provision);
                    }
                    let mut grants = provisioner
                        .map(|p| p.entitlement_slugs())
                        .unwrap_or_default();
                    grants.sort();
                    grants.dedup();
                    let mut traits = s.resource_type.traits.clone();
                    traits.sort();
                    traits.dedup();
                    ManifestResourceType {
                        id: s.resource_type.id.clone(),
                        display_name: s.resource_type.display_name.clone(),
                        traits,
                        capabilities,
                        grants,
                    }
                })
                .collect(),
            actions: self.actions(),
            account_creation: inner
                .account_manager
                .as_ref()
                .map(|(_, fields)| AccountCreation {
                    fields: fields.clone(),
                }),
        }
    }
}

impl RegistryBuilder {
    /// Registers the syncer of one resource type.
    pub fn syncer(mut self, syncer: impl ResourceSyncer + 'static) -> Self {
        self.syncers.push(Arc::new(syncer));
        self
    }

    /// Registers the provisioner of one resource type's entitlements.
    pub fn provisioner(
        mut self,
        resource_type: impl Into<ResourceTypeId>,
        provisioner: impl Provisioner + 'static,
    ) -> Self {
        self.provisioners
            .push((resource_type.into(), Arc::new(provisioner)));
        self
    }

    /// Registers account creation.
    pub fn account_manager(mut self, manager: impl AccountManager + 'static) -> Self {
        self.account_manager = Some(Arc::new(manager));
        self
    }

    /// Registers a custom action.
    pub fn action(mut self, action: impl Action + 'static) -> Self {
        self.actions.push(Arc::new(action));
        self
    }

    /// Checks the registration and builds the registry: one syncer per resource type, provisioners
    /// only for synced types, unique action names.
    pub fn build(self) -> Result<Registry, Error> {
        let mut syncers = BTreeMap::new();
        for syncer in self.syncers {
            let resource_type = syncer.resource_type();
            let id = resource_type.id.clone();
            let entry = RegisteredSyncer {
                resource_type,
                options: syncer.options(),
                syncer,
            };
            if syncers.insert(id.clone(), entry).is_some() {
                return Err(Error::Registration(format!(
                    "two syncers for resource type `{id}`"
                )));
            }
        }
        let mut provisioners = BTreeMap::new();
        for (id, provisioner) in self.provisioners {
            if !syncers.contains_key(&id) {
                return Err(Error::Registration(format!(
                    "provisioner for resource type `{id}`, which has no syncer"
                )));
            }
            if provisioners.insert(id.clone(), provisioner).is_some() {
                return Err(Error::Registration(format!(
                    "two provisioners for resource type `{id}`"
                )));
            }
        }
        let mut actions = BTreeMap::new();
        for action in self.actions {
            let schema = action.schema();
            let name = schema.name.clone();
            if actions.insert(name.clone(), (action, schema)).is_some() {
                return Err(Error::Registration(format!("two actions named `{name}`")));
            }
        }
        let account_manager = self.account_manager.map(|m| {
            let schema = m.schema();
            (m, schema)
        });
        let metadata = self.metadata;
        Ok(Registry {
            inner: Arc::new(Inner {
                connector: self.connector,
                resumed_learned: std::sync::atomic::AtomicBool::new(false),
                metadata,
                syncers,
                provisioners,
                account_manager,
                actions,
            }),
            journal: None,
        })
    }
}

/// What a resource type supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Capability {
    /// Resources, entitlements and grants are synced.
    Sync,
    /// Entitlements can be granted and revoked.
    Provision,
}

/// The capability manifest: deterministic JSON describing what a connector can do.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Manifest {
    /// Connector metadata.
    pub connector: ConnectorMetadata,
    /// Resource types, ordered by id.
    pub resource_types: Vec<ManifestResourceType>,
    /// Actions with their argument schemas, ordered by name.
    pub actions: Vec<ActionSchema>,
    /// The account-creation schema, when the connector creates accounts.
    pub account_creation: Option<AccountCreation>,
}

/// One resource type in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ManifestResourceType {
    /// Id.
    pub id: ResourceTypeId,
    /// Name for people.
    pub display_name: String,
    /// Traits, sorted.
    pub traits: Vec<ResourceTrait>,
    /// Capabilities, sorted.
    pub capabilities: Vec<Capability>,
    /// The slugs of the entitlements its provisioner grants, sorted
    /// ([`Provisioner::entitlement_slugs`](crate::Provisioner::entitlement_slugs)); left out
    /// when it says none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<String>,
}

/// The account-creation part of the manifest.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AccountCreation {
    /// The fields, in declaration order.
    pub fields: Vec<FieldSpec>,
}

impl Manifest {
    /// Pretty JSON with a trailing newline; the same registration always gives the same bytes.
    pub fn to_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| unreachable!("a manifest always serialises: {e}"));
        json.push('\n');
        json
    }
}
