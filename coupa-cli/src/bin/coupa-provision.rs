//! Change access in a Coupa tenant (or a simulated one, by flag): grant, revoke, create
//! accounts, run actions. Each outcome is one line (`--json`: one JSON object).
//!
//! ```text
//! cargo run --example coupa-provision -- grant group 7 42
//! cargo run --example coupa-provision -- revoke role 3 42
//! cargo run --example coupa-provision -- create-account --login kat --email kat@example.com \
//!     --first-name Katherine --last-name Johnson --license expense-user
//! cargo run --example coupa-provision -- action disable_user --user-id 42
//! cargo run --example coupa-provision -- --sim-fixture grant group 11 3
//! ```
//!
//! Credentials come from the environment as for `coupa-sync`. Without them the program refuses
//! to run (exit 2) unless `--sim` or `--sim-fixture` asks for a simulated tenant. Standard
//! error carries the audit trail: one JSON line per change.
//!
//! Exit codes: 0 done or already so, 1 failed, 2 usage or configuration. Ctrl-C or SIGTERM
//! while a write is in flight lets it finish (or restore) before the program exits.

use connector_cli::Cli;

fn main() -> std::process::ExitCode {
    Cli::new("coupa-provision", coupa_cli::Coupa)
        .with_about("Change access in a Coupa tenant.")
        .main()
}
