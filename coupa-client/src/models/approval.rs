//! Approval authority on the user record: the eight approval limits and their shared records.

use serde::Deserialize;

use super::common::string_or_number;

/// Which approval limit of a user: what it bounds, and whether for the user's own documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ApprovalLimitKind {
    /// `requisition-approval-limit`
    Requisition,
    /// `requisition-self-approval-limit`
    RequisitionSelf,
    /// `expense-approval-limit`
    Expense,
    /// `expense-self-approval-limit`
    ExpenseSelf,
    /// `invoice-approval-limit`
    Invoice,
    /// `invoice-self-approval-limit`
    InvoiceSelf,
    /// `contract-approval-limit`
    Contract,
    /// `contract-self-approval-limit`
    ContractSelf,
}

impl ApprovalLimitKind {
    /// The eight limits.
    pub const ALL: [ApprovalLimitKind; 8] = [
        Self::Requisition,
        Self::RequisitionSelf,
        Self::Expense,
        Self::ExpenseSelf,
        Self::Invoice,
        Self::InvoiceSelf,
        Self::Contract,
        Self::ContractSelf,
    ];

    /// The user record's key, as in a `fields` projection.
    pub fn key(self) -> &'static str {
        match self {
            Self::Requisition => "requisition-approval-limit",
            Self::RequisitionSelf => "requisition-self-approval-limit",
            Self::Expense => "expense-approval-limit",
            Self::ExpenseSelf => "expense-self-approval-limit",
            Self::Invoice => "invoice-approval-limit",
            Self::InvoiceSelf => "invoice-self-approval-limit",
            Self::Contract => "contract-approval-limit",
            Self::ContractSelf => "contract-self-approval-limit",
        }
    }

    /// A short snake-case name: `requisition`, `requisition_self`, ...
    pub fn name(self) -> &'static str {
        match self {
            Self::Requisition => "requisition",
            Self::RequisitionSelf => "requisition_self",
            Self::Expense => "expense",
            Self::ExpenseSelf => "expense_self",
            Self::Invoice => "invoice",
            Self::InvoiceSelf => "invoice_self",
            Self::Contract => "contract",
            Self::ContractSelf => "contract_self",
        }
    }

    /// The kind whose record key is `key`.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.key() == key)
    }
}

/// An approval limit record, as embedded in a user (records are shared: two users, or two limits
/// of one user, may point at the same id).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ApprovalLimit {
    /// Id.
    pub id: i64,
    /// Name, such as `5000.00 USD`.
    #[serde(default)]
    pub name: Option<String>,
    /// The amount as Coupa writes it, a decimal string such as `5000.00` (a JSON number is
    /// kept as its shortest text).
    #[serde(default, deserialize_with = "string_or_number")]
    pub amount: Option<String>,
    /// The currency.
    #[serde(default)]
    pub currency: Option<Currency>,
    /// What the limit applies to, such as `requisition_header`.
    #[serde(default)]
    pub subject: Option<String>,
}

/// A currency as embedded in a record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Currency {
    /// Id.
    #[serde(default)]
    pub id: Option<i64>,
    /// ISO code, such as `USD`.
    #[serde(default)]
    pub code: Option<String>,
}
