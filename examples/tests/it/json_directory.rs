//! The SDK test kit and provisioning round trips on the JSON-directory connector.

use connector_sdk::testing::{check_provisioning, check_sync};
use connector_sdk::{CreateAccountOutcome, EntitlementId, Error, ResourceId};
use examples::json_directory::{Directory, registry};
use serde_json::json;

fn write_directory(dir: &tempfile::TempDir, users: usize) -> std::path::PathBuf {
    let path = dir.path().join("directory.json");
    let directory = json!({
        "users": (0..users).map(|i| json!({
            "id": format!("u{i}"), "name": format!("User {i}"), "email": format!("u{i}@example.com")
        })).collect::<Vec<_>>(),
        "groups": [
            {"id": "eng", "name": "Engineering", "members": ["u0", "u1", "u2"]},
            {"id": "ops", "name": "Operations", "members": ["u2"]}
        ]
    });
    std::fs::write(&path, directory.to_string()).unwrap();
    path
}

fn read(path: &std::path::Path) -> Directory {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test]
async fn passes_the_test_kit() {
    let dir = tempfile::tempdir().unwrap();
    // 250 users: three user pages.
    let path = write_directory(&dir, 250);
    let registry = registry(&path).unwrap();
    let checked = check_sync(&registry).await.unwrap();
    let counts = &checked.report.counts;
    assert_eq!(counts.resources[&"user".into()], 250);
    assert_eq!(counts.resources[&"group".into()], 2);
    assert_eq!(counts.grants[&"group".into()], 4);

    check_provisioning(
        &registry,
        &ResourceId::new("user", "u7"),
        &EntitlementId::new(ResourceId::new("group", "ops"), "member"),
    )
    .await
    .unwrap();
    assert_eq!(read(&path).groups[1].members, ["u2"]);
}

#[tokio::test]
async fn concurrent_grants_to_one_group_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_directory(&dir, 20);
    let registry = registry(&path).unwrap();
    let ops = EntitlementId::new(ResourceId::new("group", "ops"), "member");
    let grants = (3..13).map(|i| {
        let registry = registry.clone();
        let ops = ops.clone();
        tokio::spawn(async move {
            registry
                .grant(connector_sdk::GrantRequest::new(
                    ResourceId::new("user", format!("u{i}")),
                    ops.clone(),
                ))
                .await
        })
    });
    for grant in futures_join(grants).await {
        grant.unwrap();
    }
    let members = &read(&path).groups[1].members;
    assert_eq!(members.len(), 11, "{members:?}");
}

async fn futures_join<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn accounts_and_actions() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_directory(&dir, 2);
    let registry = registry(&path).unwrap();
    let fields = json!({"id": "grace", "name": "Grace Hopper", "email": "grace@example.com"});
    let outcome = registry
        .create_account(
            fields.as_object().cloned().unwrap(),
            connector_sdk::CallContext::default(),
        )
        .await
        .unwrap();
    assert!(
        matches!(outcome, CreateAccountOutcome::Created(ref r) if r.id == ResourceId::new("user", "grace"))
    );
    let outcome = registry
        .create_account(
            fields.as_object().cloned().unwrap(),
            connector_sdk::CallContext::default(),
        )
        .await
        .unwrap();
    assert!(matches!(outcome, CreateAccountOutcome::AlreadyExists(_)));
    assert_eq!(read(&path).users.len(), 3);

    let err = registry
        .create_account(
            json!({"id": "x"}).as_object().cloned().unwrap(),
            connector_sdk::CallContext::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "create account: missing required argument `name`"
    );

    let out = registry
        .run_action(
            "set_active",
            json!({"user_id": "grace", "active": false})
                .as_object()
                .cloned()
                .unwrap(),
            connector_sdk::CallContext::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.as_map()["active"], false);
    assert!(!read(&path).users[2].active);
    let err = registry
        .run_action(
            "set_active",
            json!({"user_id": "nobody", "active": false})
                .as_object()
                .cloned()
                .unwrap(),
            connector_sdk::CallContext::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Operation { .. }));
    assert_eq!(
        std::error::Error::source(&err).unwrap().to_string(),
        "not found: user:nobody"
    );
}

#[tokio::test]
async fn a_broken_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("directory.json");
    std::fs::write(&path, "{not json").unwrap();
    let err = registry(&path).unwrap().validate().await.unwrap_err();
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(
        source.ends_with("directory.json is not a directory file"),
        "{source}"
    );
}

#[tokio::test]
async fn a_sync_round_trips_through_a_c1z() {
    use connector_sdk::{MemoryStore, Store, SyncConfig, SyncEngine};
    let dir = tempfile::tempdir().unwrap();
    let path = write_directory(&dir, 120);
    let store = std::sync::Arc::new(MemoryStore::new());
    let report = SyncEngine::new(
        registry(&path).unwrap(),
        store.clone(),
        SyncConfig::default(),
    )
    .run(&tokio_util::sync::CancellationToken::new())
    .await
    .unwrap();
    let file = dir.path().join("directory.c1z");
    let written = c1z::Writer::new()
        .write(store.as_ref(), report.run, &file)
        .unwrap();
    assert_eq!(written.grants, 4);
    let reader = c1z::Reader::open(&file).unwrap();
    assert_eq!(
        reader.resource_types().unwrap(),
        store.resource_types(report.run).unwrap()
    );
    let mut resources: Vec<_> = reader.resources().map(Result::unwrap).collect();
    resources.sort_by_key(|r| r.id.to_string());
    let mut expected = store.all_resources(report.run).unwrap();
    expected.sort_by_key(|r| r.id.to_string());
    assert_eq!(resources, expected);
    let mut entitlements: Vec<_> = reader.entitlements().map(Result::unwrap).collect();
    entitlements.sort_by_key(|e| e.id.to_string());
    let mut expected = store.all_entitlements(report.run).unwrap();
    expected.sort_by_key(|e| e.id.to_string());
    assert_eq!(entitlements, expected);
    let mut grants: Vec<_> = reader.grants().map(Result::unwrap).collect();
    grants.sort_by_key(|g| g.id().to_string());
    assert_eq!(grants, store.all_grants(report.run).unwrap());
}

#[tokio::test]
async fn two_files_are_two_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_directory(&dir, 3);
    let b = dir.path().join("b.json");
    std::fs::copy(&a, &b).unwrap();
    let (one, other) = (registry(&a).unwrap(), registry(&b).unwrap());
    connector_sdk::testing::check_fingerprint(&one, &other).unwrap();
    // The same file by another path is the same tenant.
    let again = registry(dir.path().join(".").join("directory.json")).unwrap();
    assert_eq!(one.fingerprint(), again.fingerprint());

    // A sync of b.json never goes into a store of a.json's syncs.
    let store = std::sync::Arc::new(connector_sdk::MemoryStore::new());
    let sync = |registry| {
        connector_sdk::SyncEngine::new(
            registry,
            store.clone(),
            connector_sdk::SyncConfig::default(),
        )
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    sync(one).run(&cancel).await.unwrap();
    let err = sync(other).run(&cancel).await.unwrap_err();
    assert!(matches!(err, Error::OtherFingerprint { .. }), "{err}");
}

#[test]
fn the_binary_runs_every_kind_of_command() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_directory(&dir, 3);
    let file = path.to_str().unwrap();
    let run = |args: &[&str]| {
        crate::outcome(
            crate::command("json-directory")
                .args(["--directory", file])
                .args(args)
                .current_dir(dir.path()),
        )
    };
    let (code, out, err) = run(&["sync"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("Synced into json-directory.db (run 1)"),
        "{out}"
    );
    assert!(dir.path().join("json-directory.db").exists());
    let (code, out, err) = run(&["grant", "group:ops:member", "user:u1"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "granted group:ops:member to user:u1"),
        "{err}"
    );
    assert_eq!(read(&path).groups[1].members, ["u2", "u1"]);
    let (code, _, err) = run(&["grant", "group:ops:member", "user:nobody"]);
    assert_eq!(code, 1, "{err}");
    let (code, out, _) = crate::outcome(crate::command("json-directory").arg("sync"));
    assert_eq!((code, out.as_str()), (2, ""));
}

#[test]
fn the_templates_flags_take_no_built_in_name_and_its_serve_serves() {
    use connector_cli::Cli;
    assert!(
        Cli::new("json-directory", examples::json_directory::Cli)
            .check_flags()
            .is_ok()
    );
    assert!(Cli::new("coupa", coupa_cli::Coupa).check_flags().is_ok());
    // `--directory` before `serve` is the connector's: the service runs (it is not baton's
    // one-shot `serve -f`, which would sync and exit).
    let dir = tempfile::tempdir().unwrap();
    let path = write_directory(&dir, 3);
    let port = crate::free_port();
    let mut child = crate::command("json-directory")
        .args([
            "--directory",
            path.to_str().unwrap(),
            "serve",
            "--insecure-no-auth",
        ])
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env_remove("SERVICE_TOKEN")
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let began = std::time::Instant::now();
    let mut answered = false;
    while began.elapsed() < std::time::Duration::from_secs(20) {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            stream
                .write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            answered = answer.starts_with("HTTP/1.1 200");
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "serve exited: it took the one-shot path"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(answered, "the service did not answer /livez");
}
