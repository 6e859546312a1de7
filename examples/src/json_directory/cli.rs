//! The command line: the connector's one flag, `--file`.

use async_trait::async_trait;
use connector_cli::{CliError, ConnectorCli, Opened, Purpose};

/// The JSON-directory connector, for `connector_cli::Cli`.
pub struct Cli;

/// The connector's flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The JSON file the directory is kept in.
    #[arg(long, env = "DIRECTORY_FILE")]
    file: std::path::PathBuf,
}

#[async_trait]
impl ConnectorCli for Cli {
    type Args = Args;

    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    async fn open(&self, args: &Args, _purpose: Purpose) -> Result<Opened, CliError> {
        Ok(Opened::new(super::registry(&args.file)?))
    }
}
