//! The example programs: the binaries end to end, the README's commands, and the JSON-directory
//! connector through the SDK's test kit.

#![allow(missing_docs, unreachable_pub)]

mod conductorone;
mod coupa_provision;
mod coupa_service;
mod coupa_sync;
mod json_directory;
mod postgres;
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

/// Sends SIGTERM to `child`, as Kubernetes stops a pod.
pub fn sigterm(child: &std::process::Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -TERM {}: {sent}", child.id());
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

/// The fixture tenant with user 1 holding roles 1, 2 and 3. Coupa keeps a removed role on a
/// plain write, so a revoke is a clear and then a set; the clear (the second write to user 1)
/// lands and its answer never comes, so a test can kill the writer between the two.
pub async fn sim_whose_clear_never_answers() -> coupa_sim::CoupaSim {
    use coupa_sim::{CoupaSim, Fault, FaultKind, Tenant};
    let sim = CoupaSim::start(Tenant::fixture()).await;
    sim.update_tenant(|t| t.users.get_mut(&1).unwrap().roles = [1, 2, 3].into());
    sim.inject(Fault::nth(
        "PUT",
        "/api/users/1",
        2,
        FaultKind::Delay(std::time::Duration::from_secs(600)),
    ));
    sim
}

/// Waits (at most 30 s) until the clear of user 1's roles has reached `sim`.
pub async fn wait_for_the_clear(sim: &coupa_sim::CoupaSim) {
    let began = std::time::Instant::now();
    while sim.count("PUT", "/api/users/1") < 2 {
        assert!(
            began.elapsed() < std::time::Duration::from_secs(30),
            "the clear never came"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
