//! A typed async client for the Coupa Core API.
//!
//! This crate is meant to be useful on its own to any Rust service that talks to Coupa: OAuth2
//! client credentials with a cached, refreshed token; one request path with Coupa's JSON
//! conventions, client-side rate limiting and bounded retries; endpoints as typed builders; lists
//! as paged streams. It knows nothing of the connector SDK.
//!
//! The crate is being built up endpoint by endpoint; its public surface is empty for now.
