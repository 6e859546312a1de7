//! The main job: sync a Coupa tenant into a SQLite file.
//!
//! The Coupa connector this program drives is not part of this version of the workspace yet, so
//! the program says so and exits with a non-zero status instead of pretending to sync.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "coupa-sync: the Coupa connector is not available in this version; \
         `cargo run --example json-directory -- FILE` runs the same engine on a JSON directory"
    );
    ExitCode::FAILURE
}
