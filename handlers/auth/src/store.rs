//! The users table: create an account only if the email is free, and read one back.

pub mod dynamo;
pub mod memory;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::validate::Email;

/// The attribute holding the KMS-encrypted PHC string (Binary).
pub const HASH_ATTRIBUTE: &str = "password_hash";
/// The attribute holding the account's creation time in Unix seconds (Number).
pub const CREATED_AT_ATTRIBUTE: &str = "created_at";
/// `true` (Boolean) when the password was NFKC-normalized before hashing; absent for accounts made
/// before passwords were normalized, whose owners keep signing in with the password as they type it.
pub const NFKC_ATTRIBUTE: &str = "password_nfkc";

/// One user's row.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredUser {
    pub email: Email,
    /// The PHC string, encrypted under the email's context; only a [`crate::password::Cipher`] opens it.
    pub encrypted_hash: Vec<u8>,
    pub created_at: u64,
    /// The password was NFKC-normalized before hashing ([`crate::password::policy`]): signin normalizes
    /// what it is given the same way.
    pub normalized: bool,
}

impl fmt::Debug for StoredUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredUser")
            .field("email", &self.email)
            .field("encrypted_hash", &format_args!("<{} bytes>", self.encrypted_hash.len()))
            .field("created_at", &self.created_at)
            .field("normalized", &self.normalized)
            .finish()
    }
}

/// What [`UserStore::create`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateOutcome {
    Created,
    /// The email already had an account; nothing was written.
    AlreadyExists,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database failed; the request may be retried.
    #[error("the user table failed: {0}")]
    Unavailable(String),
    /// A row exists but lacks an attribute or has one of the wrong type.
    #[error("the user row is malformed: {0}")]
    Corrupt(String),
}

/// Users keyed by normalized email.
pub trait UserStore: Send + Sync {
    /// Writes `user` unless its email already has a row. Atomic: of any number of concurrent creates
    /// for one email exactly one answers [`CreateOutcome::Created`].
    fn create(&self, user: &StoredUser) -> impl Future<Output = Result<CreateOutcome, StoreError>> + Send;

    /// The row for `email`, read consistently (a create that answered is seen).
    fn get(&self, email: &Email) -> impl Future<Output = Result<Option<StoredUser>, StoreError>> + Send;

    /// Replaces the password of the account `user.email` with `user`'s (a reset), only if the account
    /// exists: `false` when it does not, and nothing is written.
    fn set_password(&self, user: &StoredUser) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// A shared store is a store, so one table can serve several handlers' dependencies.
impl<T: UserStore + ?Sized> UserStore for Arc<T> {
    fn create(&self, user: &StoredUser) -> impl Future<Output = Result<CreateOutcome, StoreError>> + Send {
        (**self).create(user)
    }

    fn get(&self, email: &Email) -> impl Future<Output = Result<Option<StoredUser>, StoreError>> + Send {
        (**self).get(email)
    }

    fn set_password(&self, user: &StoredUser) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).set_password(user)
    }
}
