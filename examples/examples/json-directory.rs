//! The JSON-directory connector's command line: every subcommand of `connector_cli` on a
//! directory kept in a JSON file.
//!
//! ```text
//! cargo run --example json-directory -- --directory directory.json sync --out directory.db
//! cargo run --example json-directory -- --directory directory.json grant group:eng:member user:u2
//! cargo run --example json-directory -- --help
//! ```

use connector_cli::Cli;

fn main() -> std::process::ExitCode {
    Cli::new("json-directory", examples::json_directory::Cli)
        .with_about("A directory kept in a JSON file, as a connector.")
        .main()
}
