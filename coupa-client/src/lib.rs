//! A typed async client for the Coupa Core API.
//!
//! Useful on its own to any Rust service that talks to Coupa; it knows nothing of the connector
//! SDK.
//!
//! * **Config**: a tenant domain (validated: `acme`, `acme.coupahost.com`, `acme.coupacloud.com`,
//!   with or without `https://`, `/`, `:443`) or an explicit base URL; client id; client secret as
//!   [`secrecy::SecretString`]; scopes.
//! * **Auth**: OAuth2 client credentials against `/oauth2/token`; the token is cached, refreshed
//!   before expiry (one refresh at a time under concurrency) and refreshed once on a 401.
//! * **Transport**: one request path with `Accept: application/json`, a client-side rate limit
//!   shared by all clones, and bounded retries with exponential backoff and jitter (see
//!   the retry table below); `Retry-After` honoured.
//! * **Endpoints**: [`ListQuery`] builders with filters, `fields=` projections and paged
//!   [`Stream`](futures::Stream)s; get, create and update of users.
//! * **Errors**: one [`Error`] enum, never holding a secret or a token.
//!
//! # What is retried
//!
//! GET requests are retried on connect errors, timeouts, dropped connections, 429 and
//! 500/502/503/504, up to [`RetryConfig::max_attempts`] and [`RetryConfig::max_elapsed`]. PUT and
//! POST are retried **only on connect errors**, where the request provably never reached Coupa;
//! a write that may have been applied is reported to the caller, who re-reads before deciding.
//!
//! # Example
//!
//! ```no_run
//! use coupa_client::{Config, CoupaClient, Fields};
//! use futures::TryStreamExt;
//! use secrecy::SecretString;
//!
//! # async fn run() -> Result<(), coupa_client::Error> {
//! let config = Config::new("acme", "client-id", SecretString::from("client-secret"))?;
//! let client = CoupaClient::new(config)?;
//! let mut pages = std::pin::pin!(client
//!     .users()
//!     .active(true)
//!     .fields(Fields::of(["id", "login"]).nested("roles", Fields::of(["id", "name"])))
//!     .pages());
//! while let Some(users) = pages.try_next().await? {
//!     for user in users {
//!         println!("{} {:?} {} roles", user.id, user.login, user.roles.map_or(0, |r| r.len()));
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod auth;
mod client;
mod config;
mod decode;
mod domain;
mod endpoints;
mod error;
mod fields;
mod limiter;
mod models;
mod retry;
mod transport;

pub use auth::OAuthError;
pub use client::{Budget, ClientStats, CoupaClient, LearnedRate};
pub use config::{Config, CredentialStyle, RetryConfig, scopes};
pub use domain::{DEFAULT_SUFFIXES, base_url_for_domain};
pub use endpoints::{ListQuery, MAX_PAGE_SIZE};
pub use error::{ApiError, Error};
pub use fields::Fields;
pub use models::{
    AccessList, AccountGroup, ApprovalLimit, ApprovalLimitKind, CodeRef, ContentGroup, Currency,
    IdRef, License, LoginRef, NewUser, Record, Reference, Role, User, UserGroup, UserUpdate,
};
