//! The Coupa connector: Coupa users, user groups, roles, licenses, account groups and content
//! groups mapped onto the `connector-sdk` model, synced in one users pass and provisioned with
//! safe, verified writes.
//!
//! This is the only crate that knows both the SDK and the Coupa client. It is being built up; its
//! public surface is empty for now.
