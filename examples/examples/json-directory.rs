//! Syncs a directory kept in a JSON file into SQLite and prints what was stored.
//!
//! ```text
//! cargo run --example json-directory -- directory.json [out.db]
//! ```

use std::process::ExitCode;
use std::sync::Arc;

use connector_sdk::{SqliteStore, SyncConfig, SyncEngine};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(file) = args.next() else {
        eprintln!("usage: json-directory FILE [OUT.db]");
        return ExitCode::from(2);
    };
    let out = args.next().unwrap_or_else(|| "json-directory.db".into());
    match run(&file, &out).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut message = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                message.push_str(": ");
                message.push_str(&s.to_string());
                source = s.source();
            }
            eprintln!("json-directory: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(file: &str, out: &str) -> Result<(), Box<dyn std::error::Error>> {
    let registry = examples::json_directory::registry(file)?;
    registry.validate().await?;
    let store = Arc::new(SqliteStore::open(out)?);
    let engine = SyncEngine::new(registry, store, SyncConfig::default());
    let report = engine.run(&CancellationToken::new()).await?;
    println!("run {} stored in {out}", report.run);
    for (resource_type, n) in &report.counts.resources {
        println!("  {resource_type:<8} {n:>8} resources");
    }
    for (resource_type, n) in &report.counts.grants {
        println!("  {resource_type:<8} {n:>8} grants");
    }
    Ok(())
}
