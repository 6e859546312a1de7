//! The example programs: the binaries end to end, the README's commands, and the JSON-directory
//! connector through the SDK's test kit.

#![allow(missing_docs, unreachable_pub)]

mod conductorone;
mod coupa_provision;
mod coupa_service;
mod coupa_sync;
mod json_directory;
mod readme;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// An example binary, built for this test run by the cargo that runs it, in the profile this
/// test was built in (so a filtered `cargo test --test it`, or `cargo test --release`, never
/// runs a stale binary or one of another profile).
pub fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let profile: &[&str] = if cfg!(debug_assertions) {
            &[]
        } else {
            &["--release"]
        };
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "examples", "--examples"])
            .args(profile)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "building the examples failed");
    });
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// A command for an example binary with no Coupa variables inherited, and a state folder of
/// its own (`XDG_STATE_HOME`, where a write's default journal lives), so that concurrent tests
/// never share a journal.
pub fn command(name: &str) -> Command {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let state = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("state-{}-{n}", std::process::id()));
    let mut command = Command::new(example(name));
    command.env("XDG_STATE_HOME", state);
    for var in [
        "COUPA_DOMAIN",
        "COUPA_BASE_URL",
        "COUPA_CLIENT_ID",
        "COUPA_CLIENT_SECRET",
        "COUPA_SCOPES",
        "BATON_CLIENT_ID",
        "BATON_CLIENT_SECRET",
        "BATON_COUPA_DOMAIN",
        "BATON_COUPA_CLIENT_ID",
        "BATON_COUPA_CLIENT_SECRET",
        "BATON_C1_API_HOST",
        "SSL_CERT_FILE",
    ] {
        command.env_remove(var);
    }
    command
}

/// Exit code, stdout and stderr, trimmed.
pub fn outcome(command: &mut Command) -> (i32, String, String) {
    let output = command.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    )
}

/// A loopback port free now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
