//! The main job: sync a Coupa tenant into a SQLite file and print a summary.
//!
//! ```text
//! cargo run --release --example coupa-sync                      # simulated tenant
//! COUPA_DOMAIN=acme COUPA_CLIENT_ID=… COUPA_CLIENT_SECRET=… \
//!     cargo run --release --example coupa-sync -- --out acme.db
//! ```
//!
//! Running again into the same file after an interruption resumes the sync. With no credentials
//! (and no `--sim`), it syncs a simulated tenant and says so. The other subcommands of the
//! Coupa command line (`coupa-sync --help`) work here too.
//!
//! Exit codes: 0 synced, 1 failed, 2 usage or configuration.

use connector_cli::{Cli, DefaultCommand};

fn main() -> std::process::ExitCode {
    Cli::new("coupa-sync", coupa_cli::Coupa)
        .with_about("Sync a Coupa tenant (or a simulated one) into SQLite.")
        .with_default(DefaultCommand::Sync)
        .main()
}
