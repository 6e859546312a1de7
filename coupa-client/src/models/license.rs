//! License flags: boolean keys on the user record.

use std::fmt;

use serde::{Serialize, Serializer};

/// A Coupa license flag. The wire form is the dash key (`expense-user`); underscore spellings
/// (`treasury_user`) are read too. Unknown `*-user` flags are kept as [`License::Other`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum License {
    /// `purchasing-user`
    Purchasing,
    /// `expense-user`
    Expense,
    /// `sourcing-user`
    Sourcing,
    /// `inventory-user`
    Inventory,
    /// `contracts-user`
    Contracts,
    /// `analytics-user`
    Analytics,
    /// `aic-user`
    AiClassification,
    /// `spend-guard-user`
    SpendGuard,
    /// `ccw-user`
    ContingentWorkforce,
    /// `clm-advanced-user`
    ClmAdvanced,
    /// `supply-chain-user`
    SupplyChain,
    /// `risk-assess-user`
    RiskAssess,
    /// `travel-user`
    Travel,
    /// `treasury-user`
    Treasury,
    /// `invoicing-user` (documented as output only)
    Invoicing,
    /// `category-planner-user`
    CategoryPlanner,
    /// `category-strategy-user` (documented as output only)
    CategoryStrategy,
    /// `intake-user`
    Intake,
    /// `coupa-navi-ai-agent-user` (key unconfirmed)
    NaviAiAgent,
    /// Any other license flag, by its dash key.
    Other(String),
}

/// `*-user` booleans that are not licenses.
const NOT_LICENSES: &[&str] = &["api-user", "supplier-user", "support-user", "msp-user"];

impl License {
    /// Every known license, in the order of the Coupa reference.
    pub const ALL: [License; 19] = [
        Self::Purchasing,
        Self::Expense,
        Self::Sourcing,
        Self::Inventory,
        Self::Contracts,
        Self::Analytics,
        Self::AiClassification,
        Self::SpendGuard,
        Self::ContingentWorkforce,
        Self::ClmAdvanced,
        Self::SupplyChain,
        Self::RiskAssess,
        Self::Travel,
        Self::Treasury,
        Self::Invoicing,
        Self::CategoryPlanner,
        Self::CategoryStrategy,
        Self::Intake,
        Self::NaviAiAgent,
    ];

    /// The dash key, such as `expense-user`.
    pub fn key(&self) -> &str {
        match self {
            Self::Purchasing => "purchasing-user",
            Self::Expense => "expense-user",
            Self::Sourcing => "sourcing-user",
            Self::Inventory => "inventory-user",
            Self::Contracts => "contracts-user",
            Self::Analytics => "analytics-user",
            Self::AiClassification => "aic-user",
            Self::SpendGuard => "spend-guard-user",
            Self::ContingentWorkforce => "ccw-user",
            Self::ClmAdvanced => "clm-advanced-user",
            Self::SupplyChain => "supply-chain-user",
            Self::RiskAssess => "risk-assess-user",
            Self::Travel => "travel-user",
            Self::Treasury => "treasury-user",
            Self::Invoicing => "invoicing-user",
            Self::CategoryPlanner => "category-planner-user",
            Self::CategoryStrategy => "category-strategy-user",
            Self::Intake => "intake-user",
            Self::NaviAiAgent => "coupa-navi-ai-agent-user",
            Self::Other(key) => key,
        }
    }

    /// The name Coupa shows, such as `Expense`.
    pub fn display_name(&self) -> &str {
        match self {
            Self::Purchasing => "Purchasing",
            Self::Expense => "Expense",
            Self::Sourcing => "Sourcing",
            Self::Inventory => "Inventory",
            Self::Contracts => "Contracts",
            Self::Analytics => "Analytics",
            Self::AiClassification => "AI Classification",
            Self::SpendGuard => "Spend Guard",
            Self::ContingentWorkforce => "Contingent Workforce",
            Self::ClmAdvanced => "CLM Advanced",
            Self::SupplyChain => "Supply Chain",
            Self::RiskAssess => "Risk Assess",
            Self::Travel => "Travel",
            Self::Treasury => "Treasury",
            Self::Invoicing => "Invoicing",
            Self::CategoryPlanner => "Category Planner",
            Self::CategoryStrategy => "Category Strategy",
            Self::Intake => "Intake",
            Self::NaviAiAgent => "Navi AI Agent",
            Self::Other(key) => key,
        }
    }

    /// The license a JSON key names, in dash or underscore form, or `None` when the key is not a
    /// license flag (not `*-user`, or one of `api-user`, `supplier-user`, `support-user`,
    /// `msp_user`).
    pub fn from_key(key: &str) -> Option<Self> {
        let dashed: std::borrow::Cow<'_, str> = if key.contains('_') {
            key.replace('_', "-").into()
        } else {
            key.into()
        };
        if !dashed.ends_with("-user") || NOT_LICENSES.contains(&dashed.as_ref()) {
            return None;
        }
        Some(
            Self::ALL
                .iter()
                .find(|l| l.key() == dashed)
                .cloned()
                .unwrap_or_else(|| Self::Other(dashed.into_owned())),
        )
    }
}

impl fmt::Display for License {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl Serialize for License {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_in_both_spellings() {
        for license in License::ALL {
            assert_eq!(License::from_key(license.key()), Some(license.clone()));
            let underscored = license.key().replace('-', "_");
            assert_eq!(License::from_key(&underscored), Some(license.clone()));
        }
        assert_eq!(License::from_key("treasury_user"), Some(License::Treasury));
        assert_eq!(
            License::from_key("quantum-user"),
            Some(License::Other("quantum-user".into()))
        );
        for not in [
            "api-user",
            "supplier-user",
            "support-user",
            "msp_user",
            "login",
            "active",
        ] {
            assert_eq!(License::from_key(not), None, "{not}");
        }
    }
}
