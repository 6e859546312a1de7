//! Every conformance check can fail: each is fed a connector broken in its way.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use connector_sdk::testing::{ConformanceError, FixedFingerprint, check_sync_within};
use connector_sdk::{
    ConnectorError, ConnectorMetadata, EntitlementId, Error, Grant, ListRequest, Page, PageToken,
    Registry, Resource, ResourceId, ResourceSyncer, ResourceTrait, ResourceType,
};

/// How a test user listing misbehaves.
#[derive(Default)]
struct Broken {
    /// Hand out a new token forever.
    endless: bool,
    /// Emit user 1 on every page (two pages).
    duplicate: bool,
    /// Hand out the same token again.
    repeat: bool,
    /// Emit a resource of an unregistered type.
    foreign: bool,
    /// Emit a grant of an entitlement nobody synced.
    dangling: bool,
    calls: AtomicU64,
}

#[async_trait]
impl ResourceSyncer for Broken {
    fn resource_type(&self) -> ResourceType {
        ResourceType::new("user", "User", [ResourceTrait::User])
    }

    async fn list(&self, request: ListRequest) -> Result<Page<Resource>, ConnectorError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let offset = PageToken::parse_offset(request.token.as_ref())?;
        let user = |id: u64| Resource::new(ResourceId::new("user", id.to_string()), "U");
        let mut page = Page::new(vec![user(if self.duplicate { 1 } else { offset + 1 })]);
        if self.foreign {
            page = page.with_resources([Resource::new(ResourceId::new("alien", "1"), "A")]);
        }
        if self.dangling {
            page = page.with_grants([Grant::new(
                EntitlementId::new(ResourceId::new("user", "9"), "member"),
                ResourceId::new("user", "1"),
            )]);
        }
        let next = match (self.endless, self.duplicate, self.repeat) {
            (true, ..) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Some(PageToken::offset(offset + 1))
            }
            (_, true, _) if n == 0 => Some(PageToken::offset(1)),
            (_, _, true) if n < 3 => Some(PageToken::offset(7)),
            _ => None,
        };
        Ok(match next {
            Some(token) => page.with_next(token),
            None => page,
        })
    }
}

fn registry(broken: Broken) -> Registry {
    Registry::builder(
        ConnectorMetadata::new("broken", "Broken", "misbehaves on purpose"),
        FixedFingerprint("broken"),
    )
    .syncer(broken)
    .build()
    .unwrap()
}

async fn check(broken: Broken) -> ConformanceError {
    check_sync_within(&registry(broken), Duration::from_millis(500))
        .await
        .unwrap_err()
}

/// Paused clock: the endless listing and the time bound run on virtual time.
#[tokio::test(start_paused = true)]
async fn paging_that_never_ends_fails_paging_terminates() {
    let err = check(Broken {
        endless: true,
        ..Broken::default()
    })
    .await;
    assert!(
        matches!(
            err,
            ConformanceError::Check {
                check: "paging terminates",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_id_emitted_twice_fails_ids_are_unique() {
    let err = check(Broken {
        duplicate: true,
        ..Broken::default()
    })
    .await;
    let ConformanceError::Check { check, detail } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*check, "ids are unique");
    assert_eq!(detail, "2 resources emitted but 1 distinct ids stored");
}

#[tokio::test]
async fn a_repeated_token_fails_with_the_engines_error() {
    let err = check(Broken {
        repeat: true,
        ..Broken::default()
    })
    .await;
    assert!(
        matches!(err, ConformanceError::Sdk(Error::PageTokenRepeated { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unregistered_type_fails_with_the_engines_error() {
    let err = check(Broken {
        foreign: true,
        ..Broken::default()
    })
    .await;
    let ConformanceError::Sdk(Error::Connector { source, .. }) = &err else {
        panic!("{err:?}")
    };
    assert!(
        source
            .to_string()
            .contains("type `alien`, which has no syncer"),
        "{source}"
    );
}

#[tokio::test]
async fn a_dangling_grant_fails_integrity() {
    let err = check(Broken {
        dangling: true,
        ..Broken::default()
    })
    .await;
    assert!(
        matches!(err, ConformanceError::Sdk(Error::Integrity { .. })),
        "{err:?}"
    );
}

#[test]
fn a_fingerprint_that_ignores_the_configuration_fails() {
    let registry = |fingerprint| {
        Registry::builder(
            ConnectorMetadata::new("c", "C", "two configurations"),
            FixedFingerprint(fingerprint),
        )
        .build()
        .unwrap()
    };
    let err = connector_sdk::testing::check_fingerprint(&registry("same"), &registry("same"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "conformance check `fingerprint follows the configuration` failed: two configurations \
         have the same fingerprint \"connector=c|tenant=same\""
    );
    connector_sdk::testing::check_fingerprint(&registry("tenant a"), &registry("tenant b"))
        .unwrap();
}
