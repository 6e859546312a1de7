//! Runnable programs for this workspace, and a second connector that shows the SDK is generic.
//!
//! * `cargo run --release --example coupa-sync`: the main job (see the workspace README), which
//!   syncs a Coupa tenant, or a simulated one when no credentials are set, into SQLite.
//! * `cargo run --example json-directory -- --directory FILE sync`: syncs a directory kept in a JSON
//!   file with [`json_directory`], the template new connector authors copy (`--help` lists every
//!   subcommand).
//! * `coupa-sync`, `coupa-provision` and `coupa-service`: the programs of the `coupa-cli` crate,
//!   also runnable here as examples (`cargo run --example coupa-sync`).

pub mod json_directory;
