//! Typed Coupa records. Unknown keys are kept in `extra`, never an error; a missing optional key is
//! `None`.

mod approval;
mod common;
mod groups;
mod license;
mod user;

pub use approval::{ApprovalLimit, ApprovalLimitKind, Currency};
pub use common::{IdRef, Record, Reference};
pub use groups::{AccountGroup, ContentGroup, Role, UserGroup};
pub use license::License;
pub use user::{AccessList, CodeRef, LoginRef, NewUser, User, UserUpdate};
