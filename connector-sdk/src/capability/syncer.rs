//! [`ResourceSyncer`]: how a connector lists one resource type, its entitlements and its grants.

use async_trait::async_trait;

use super::RunContext;
use crate::error::ConnectorError;
use crate::model::{Entitlement, Grant, Resource, ResourceId, ResourceType};

/// An opaque page token. The engine stores it and hands it back; only the syncer reads it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageToken(String);

impl PageToken {
    /// A token from its text.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One page of a listing, plus anything else the syncer learned while fetching it.
///
/// `next` holds the tokens of the pages still to fetch. An empty `next` ends the listing; several
/// tokens are fetched concurrently, which lets a syncer that pages by offset hand out offsets
/// 50, 100, 150... at once. Every token must be new within its listing: a repeated one is an error.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The page's items.
    pub items: Vec<T>,
    /// Tokens of further pages of the same listing.
    pub next: Vec<PageToken>,
    /// Resources of other registered types learned while fetching the page (for example roles
    /// embedded in user rows, where a system has no role listing). The engine treats them like
    /// listed resources of their own type.
    pub resources: Vec<Resource>,
    /// Entitlements learned while fetching the page (for example a `member` entitlement for each
    /// group listed).
    pub entitlements: Vec<Entitlement>,
    /// Grants learned while fetching the page (for example a user row that names its groups).
    pub grants: Vec<Grant>,
    /// Warnings for the sync report, such as a listing skipped for a missing permission.
    pub warnings: Vec<String>,
}

impl<T> Page<T> {
    /// A last page holding `items`.
    pub fn new(items: Vec<T>) -> Self {
        Self {
            items,
            next: Vec::new(),
            resources: Vec::new(),
            entitlements: Vec::new(),
            grants: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// An empty last page.
    pub fn empty() -> Self {
        Self::new(Vec::new())
    }

    /// Adds the token of a further page.
    pub fn with_next(mut self, token: PageToken) -> Self {
        self.next.push(token);
        self
    }

    /// Adds the tokens of further pages, to be fetched concurrently.
    pub fn with_next_tokens(mut self, tokens: impl IntoIterator<Item = PageToken>) -> Self {
        self.next.extend(tokens);
        self
    }

    /// Adds resources of other types learned while fetching the page.
    pub fn with_resources(mut self, resources: impl IntoIterator<Item = Resource>) -> Self {
        self.resources.extend(resources);
        self
    }

    /// Adds entitlements learned while fetching the page.
    pub fn with_entitlements(
        mut self,
        entitlements: impl IntoIterator<Item = Entitlement>,
    ) -> Self {
        self.entitlements.extend(entitlements);
        self
    }

    /// Adds grants learned while fetching the page.
    pub fn with_grants(mut self, grants: impl IntoIterator<Item = Grant>) -> Self {
        self.grants.extend(grants);
        self
    }

    /// Adds a warning.
    pub fn with_warning(mut self, warning: impl Into<String>) -> Self {
        self.warnings.push(warning.into());
        self
    }
}

/// A request for one page of resources.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListRequest {
    /// The parent, when listing children of a resource; `None` for the top-level listing.
    pub parent: Option<ResourceId>,
    /// The page to fetch; `None` for the first page.
    pub token: Option<PageToken>,
    /// How many requests the engine can run at once: a hint for how many tokens to hand out.
    pub parallelism: usize,
    /// The run's shared state.
    pub run: RunContext,
}

impl ListRequest {
    /// A request for the page `token` of the listing under `parent`, in a run of its own.
    pub fn new(parent: Option<ResourceId>, token: Option<PageToken>, parallelism: usize) -> Self {
        Self {
            parent,
            token,
            parallelism,
            run: RunContext::new(),
        }
    }

    /// Makes the request part of `run`.
    pub fn with_run(mut self, run: RunContext) -> Self {
        self.run = run;
        self
    }
}

/// A request for one page of a resource's entitlements or grants.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResourceRequest {
    /// The resource.
    pub resource: ResourceId,
    /// The page to fetch; `None` for the first page.
    pub token: Option<PageToken>,
    /// How many requests the engine can run at once.
    pub parallelism: usize,
    /// The run's shared state.
    pub run: RunContext,
}

impl ResourceRequest {
    /// A request for the page `token` of `resource`'s listing, in a run of its own.
    pub fn new(resource: ResourceId, token: Option<PageToken>, parallelism: usize) -> Self {
        Self {
            resource,
            token,
            parallelism,
            run: RunContext::new(),
        }
    }

    /// Makes the request part of `run`.
    pub fn with_run(mut self, run: RunContext) -> Self {
        self.run = run;
        self
    }
}

/// Which per-resource calls the engine makes for a syncer's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncerOptions {
    /// Call [`ResourceSyncer::entitlements`] for each resource.
    pub entitlements: bool,
    /// Call [`ResourceSyncer::grants`] for each resource.
    pub grants: bool,
    /// List the type at the top level (without a parent). Types that only exist as children of
    /// another resource turn this off.
    pub top_level: bool,
}

impl Default for SyncerOptions {
    /// List only: what most connectors do (their list pages carry entitlements and grants).
    fn default() -> Self {
        Self::list_only()
    }
}

impl SyncerOptions {
    /// Only list resources: entitlements and grants all arrive on list pages. The default.
    pub fn list_only() -> Self {
        Self {
            entitlements: false,
            grants: false,
            top_level: true,
        }
    }

    /// List resources, then ask for each resource's entitlements and grants.
    pub fn per_resource() -> Self {
        Self {
            entitlements: true,
            grants: true,
            top_level: true,
        }
    }

    /// Sets whether the engine asks for each resource's entitlements.
    pub fn with_entitlements(mut self, on: bool) -> Self {
        self.entitlements = on;
        self
    }

    /// Sets whether the engine lists the type without a parent.
    pub fn with_top_level(mut self, on: bool) -> Self {
        self.top_level = on;
        self
    }

    /// Sets whether the engine asks for each resource's grants.
    pub fn with_grants(mut self, on: bool) -> Self {
        self.grants = on;
        self
    }
}

/// Lists one resource type. The engine drives it: scheduling, retries, storage and progress are
/// the engine's; a syncer turns one upstream page into model values.
#[async_trait]
pub trait ResourceSyncer: Send + Sync {
    /// The resource type this syncer lists.
    fn resource_type(&self) -> ResourceType;

    /// Which per-resource calls the engine makes. Defaults to none ([`SyncerOptions::list_only`]):
    /// a syncer whose resources have entitlements or grants listed per resource says so with
    /// [`SyncerOptions::per_resource`].
    fn options(&self) -> SyncerOptions {
        SyncerOptions::default()
    }

    /// One page of resources.
    async fn list(&self, request: ListRequest) -> Result<Page<Resource>, ConnectorError>;

    /// One page of the entitlements a resource offers. Defaults to none.
    async fn entitlements(
        &self,
        _request: ResourceRequest,
    ) -> Result<Page<Entitlement>, ConnectorError> {
        Ok(Page::empty())
    }

    /// One page of the grants of a resource's entitlements. Defaults to none.
    async fn grants(&self, _request: ResourceRequest) -> Result<Page<Grant>, ConnectorError> {
        Ok(Page::empty())
    }
}
