//! [`AccountManager`]: creating accounts from a declared field schema.

use async_trait::async_trait;

use super::{CreateAccountRequest, FieldSpec};
use crate::error::ConnectorError;
use crate::model::Resource;

/// What an account creation did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CreateAccountOutcome {
    /// A new account was created.
    Created(Resource),
    /// An account with the same unique attributes (login, email) already exists; nothing was
    /// written.
    AlreadyExists(Resource),
}

/// Creates user accounts.
#[async_trait]
pub trait AccountManager: Send + Sync {
    /// The fields an account is created from. The SDK validates them before calling
    /// [`AccountManager::create_account`].
    fn schema(&self) -> Vec<FieldSpec>;

    /// Creates an account from validated fields (`request.fields`).
    async fn create_account(
        &self,
        request: CreateAccountRequest,
    ) -> Result<CreateAccountOutcome, ConnectorError>;
}
