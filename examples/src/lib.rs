//! Runnable programs for this workspace, and a second connector that shows the SDK is generic.
//!
//! * `cargo run --release --example coupa-sync`: the main job (see the workspace README).
//! * `cargo run --example json-directory -- FILE`: syncs a directory kept in a JSON file with
//!   [`json_directory`], the template new connector authors copy.

pub mod json_directory;
