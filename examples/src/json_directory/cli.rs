//! The command line: the connector's one flag, `--directory` (not `--file`: `serve -f/--file`
//! is baton's one-shot sync, and a connector flag may not take a built-in name).

use async_trait::async_trait;
use connector_cli::{CliError, ConnectorCli, OpenFor, Opened};

/// The JSON-directory connector, for `connector_cli::Cli`.
pub struct Cli;

/// The connector's flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The JSON file the directory is kept in.
    #[arg(long, value_name = "FILE", env = "DIRECTORY_FILE")]
    directory: std::path::PathBuf,
}

#[async_trait]
impl ConnectorCli for Cli {
    type Args = Args;

    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    async fn open(&self, args: &Args, _for: OpenFor) -> Result<Opened, CliError> {
        Ok(Opened::new(super::registry(&args.directory)?))
    }
}
