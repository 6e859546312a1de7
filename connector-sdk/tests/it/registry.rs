use std::sync::atomic::Ordering;

use connector_sdk::testing::{check_provisioning, check_sync};
use connector_sdk::{EntitlementId, Error, Registry, ResourceId};
use serde_json::json;

use crate::fixture::{Shape, Tenant};

#[test]
fn manifest_snapshot() {
    let tenant = Tenant::new(Shape::default());
    insta::assert_snapshot!(tenant.registry().manifest().to_json());
}

#[tokio::test]
async fn action_arguments_are_validated_before_the_connector_runs() {
    let tenant = Tenant::new(Shape::default());
    let registry = tenant.registry();
    let cases = [
        (
            json!({}),
            "action `touch_user`: missing required argument `user_id`",
        ),
        (
            json!({"user_id": 5}),
            "action `touch_user`: argument `user_id` must be a string, got integer",
        ),
        (
            json!({"user_id": "5", "force": "yes"}),
            "action `touch_user`: argument `force` must be a boolean, got string",
        ),
        (
            json!({"userId": "5"}),
            "action `touch_user`: unknown argument `userId`",
        ),
    ];
    for (args, message) in cases {
        let err = registry
            .run_action(
                "touch_user",
                args.as_object().cloned().unwrap(),
                connector_sdk::CallContext::default(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Argument(_)), "{err:?}");
        assert_eq!(err.to_string(), message);
    }
    assert_eq!(tenant.faults.action_calls.load(Ordering::SeqCst), 0);
    let out = registry
        .run_action(
            "touch_user",
            json!({"user_id": "5"}).as_object().cloned().unwrap(),
            connector_sdk::CallContext::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.as_map()["user_id"], "5");
    assert_eq!(tenant.faults.action_calls.load(Ordering::SeqCst), 1);
    let err = registry
        .run_action(
            "nope",
            Default::default(),
            connector_sdk::CallContext::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "unknown action `nope`");
    let err = registry
        .create_account(Default::default(), connector_sdk::CallContext::default())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "the connector does not create accounts");
}

#[tokio::test]
async fn provisioning_dispatches_by_entitlement_type() {
    let tenant = Tenant::new(Shape::default());
    let registry = tenant.registry();
    let err = registry
        .grant(connector_sdk::GrantRequest::new(
            ResourceId::new("user", "1"),
            EntitlementId::new(ResourceId::new("role", "1"), "member"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "resource type `role` has no provisioner");
}

#[test]
fn registration_errors_are_reported() {
    let tenant = Tenant::new(Shape::default());
    struct P;
    #[async_trait::async_trait]
    impl connector_sdk::Provisioner for P {
        async fn grant(
            &self,
            _: connector_sdk::GrantRequest,
        ) -> Result<connector_sdk::GrantOutcome, connector_sdk::ConnectorError> {
            Ok(connector_sdk::GrantOutcome::granted(Vec::new()))
        }
        async fn revoke(
            &self,
            _: connector_sdk::RevokeRequest,
        ) -> Result<connector_sdk::RevokeOutcome, connector_sdk::ConnectorError> {
            Ok(connector_sdk::RevokeOutcome::Revoked)
        }
    }
    let err = Registry::builder(
        connector_sdk::ConnectorMetadata::new("c", "C", "c"),
        connector_sdk::testing::FixedFingerprint("c"),
    )
    .provisioner("group", P)
    .build()
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid registration: provisioner for resource type `group`, which has no syncer"
    );
    let _ = tenant;
}

#[tokio::test]
async fn the_test_kit_passes_the_synthetic_connector() {
    let tenant = Tenant::new(Shape::default());
    let registry = tenant.registry();
    let checked = check_sync(&registry).await.unwrap();
    assert_eq!(
        checked.report.counts.total_grants() as usize,
        tenant.expected_grants().len()
    );
    // user 1 is not in group 1 ((1 + 1) % 3 != 0).
    assert!(!tenant.is_member(1, 1));
    check_provisioning(
        &registry,
        &ResourceId::new("user", "1"),
        &EntitlementId::new(ResourceId::new("group", "1"), "member"),
    )
    .await
    .unwrap();
    assert!(!tenant.is_member(1, 1));
}

#[tokio::test]
async fn the_test_kit_catches_a_held_grant_precondition() {
    let tenant = Tenant::new(Shape::default());
    assert!(tenant.is_member(2, 1));
    let err = check_provisioning(
        &tenant.registry(),
        &ResourceId::new("user", "1"),
        &EntitlementId::new(ResourceId::new("group", "2"), "member"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "conformance check `round trip precondition` failed: `user:1` already holds `group:2:member`; pick a pair without a grant"
    );
}

#[tokio::test]
async fn a_write_fault_fails_the_write_and_changes_nothing() {
    let tenant = Tenant::new(Shape::default());
    tenant
        .faults
        .failing_writes
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let registry = tenant.registry();
    let user = ResourceId::new("user", "2");
    let group = EntitlementId::new(ResourceId::new("group", "2"), "member");
    assert!(!tenant.is_member(2, 2));
    let request = || connector_sdk::GrantRequest::new(user.clone(), group.clone());
    let err = registry.grant(request()).await.unwrap_err();
    assert_eq!(
        connector_sdk::error_chain(&err),
        "grant group:2:member to user:2 failed: upstream unavailable: the upstream refused the \
         write (fault)"
    );
    assert!(!tenant.is_member(2, 2), "nothing was written");
    // The fault lasted one write.
    registry.grant(request()).await.unwrap();
    assert!(tenant.is_member(2, 2));
}
