//! The SDK's fake connector ([`connector_sdk::testing::fake`]) under the names these tests use.

pub use connector_sdk::testing::fake::{FakeTenant as Tenant, Shape, member_entitlement};
