//! A simulated Coupa tenant served over real HTTP.
//!
//! The simulator is a second, independent implementation of the Coupa wire protocol (it shares
//! no code with `coupa-client`, so a key misspelt in the client fails a test instead of being
//! mirrored). It serves, from its own [`Tenant`] model, on a wiremock [`MockServer`]:
//!
//! * `POST /oauth2/token`: client credentials in the body or as Basic auth; wrong ones get 400
//!   `invalid_client`; tokens expire ([`SimOptions::with_token_lifetime`], [`CoupaSim::expire_tokens`]);
//!   scopes are granted per [`SimOptions::granted_scopes`].
//! * `GET /api/users`, `/api/user_groups`, `/api/roles`, `/api/account_groups`,
//!   `/api/business_groups` and `GET …/{id}`: bare JSON arrays and objects with hyphenated keys;
//!   at most 50 rows whatever `limit` says; `offset` and `id[gt]` paging in ascending id order;
//!   Coupa's filters (`attr[op]=value`, `roles[id]=3`, dash or underscore names, `status=active`);
//!   `fields=` projection, nested included; strict numeric ids.
//! * `PUT /api/users/{id}` and `POST /api/users` with Coupa's write semantics: list replace or
//!   additive-unless-emptied per list, unknown ids silently ignored (or 404), license and active
//!   flags, validation errors as `{"errors":{"user":[…]}}`.
//! * 401 without a valid token, 403 without the endpoint's scope; an optional leaky-bucket rate
//!   limit (25/s, burst 20) with or without `Retry-After`; latency; one-shot [`Fault`]s.
//!
//! Tests read the tenant after writes ([`CoupaSim::tenant`]) and the requests it answered
//! ([`CoupaSim::requests`], [`CoupaSim::counts`]).
//!
//! # In your own tests
//!
//! ```no_run
//! use coupa_sim::{CoupaSim, SimOptions, Tenant};
//! use wiremock::{Mock, ResponseTemplate, matchers::{method, path}};
//!
//! # async fn t() {
//! let sim = CoupaSim::start_with(Tenant::fixture(), SimOptions::default()).await;
//! // Point your client at sim.uri() with sim.client_id() and sim.client_secret().
//! // Stub a special case on the same server: your mocks take precedence over the simulator.
//! Mock::given(method("GET"))
//!     .and(path("/api/users/3"))
//!     .respond_with(ResponseTemplate::new(500))
//!     .mount(sim.server())
//!     .await;
//! # }
//! ```
//!
//! [`MockServer`]: wiremock::MockServer

mod handlers;
mod options;
mod query;
mod render;
mod server;
mod state;
mod tenant;
mod writes;

pub use options::{
    ALL_SCOPES, CLIENT_ID, CLIENT_SECRET, Fault, FaultKind, ListWrite, NEWER_LICENSE_KEYS,
    RateLimit, SimOptions, UngrantedScope, UnknownIds,
};
pub use server::CoupaSim;
pub use state::LoggedRequest;
pub use tenant::{
    APPROVAL_LIMIT_KEYS, AccessList, ApprovalLimit, LICENSE_KEYS, Named, SimUser, Sizes, Tenant,
    user_list, user_list_mut,
};
