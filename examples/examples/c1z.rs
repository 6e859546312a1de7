//! Look inside a `.c1z` sync file (ours or baton's v1) as a baton user would.
//!
//! ```text
//! cargo run --example c1z -- stats coupa.c1z       # syncs, and counts per resource type
//! cargo run --example c1z -- resources coupa.c1z   # one resource per line
//! cargo run --example c1z -- grants coupa.c1z      # one grant per line
//! cargo run --example c1z -- profile coupa.c1z user:1  # one resource's profile, as JSON
//! ```
//!
//! `--sync-id ID` reads that sync instead of the newest finished full one. Exit codes: 0 done,
//! 1 the file could not be read, 2 usage.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use c1z::Reader;
use clap::{Parser, Subcommand};
use connector_cli::printable;
use coupa_cli::tenant::one_line;

#[derive(Debug, Parser)]
#[command(name = "c1z")]
struct Args {
    /// Read this sync instead of the newest finished full sync.
    #[arg(long, global = true)]
    sync_id: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The file's syncs, and what the chosen one holds per resource type.
    Stats {
        /// The .c1z file
        file: PathBuf,
    },
    /// Every resource: id, type, display name.
    Resources {
        /// The .c1z file
        file: PathBuf,
    },
    /// Every grant: entitlement and principal.
    Grants {
        /// The .c1z file
        file: PathBuf,
    },
    /// One resource's profile, as JSON (keys sorted).
    Profile {
        /// The .c1z file
        file: PathBuf,
        /// The resource, such as `user:1`
        resource: String,
    },
}

/// Why printing stopped.
#[derive(Debug)]
enum Stop {
    /// The file could not be read.
    Read(c1z::Error),
    /// Standard output failed (a closed pipe ends the listing quietly).
    Write(std::io::Error),
    /// The sync holds no resource of this id.
    NoResource(String),
}

impl From<c1z::Error> for Stop {
    fn from(e: c1z::Error) -> Self {
        Self::Read(e)
    }
}

impl From<std::io::Error> for Stop {
    fn from(e: std::io::Error) -> Self {
        Self::Write(e)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut out = std::io::stdout().lock();
    match run(&args, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Stop::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Stop::Write(e)) => {
            eprintln!("c1z: cannot write the listing: {e}");
            ExitCode::FAILURE
        }
        Err(Stop::NoResource(id)) => {
            eprintln!("c1z: the sync holds no resource {}", printable(&id));
            ExitCode::FAILURE
        }
        Err(Stop::Read(error)) => {
            eprintln!("c1z: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args, out: &mut impl Write) -> Result<(), Stop> {
    let file = match &args.command {
        Command::Stats { file }
        | Command::Resources { file }
        | Command::Grants { file }
        | Command::Profile { file, .. } => file,
    };
    let reader = Reader::open_at(file, args.sync_id.as_deref())?;
    match args.command {
        Command::Stats { .. } => stats(&reader, out),
        Command::Profile { ref resource, .. } => {
            for found in reader.resources() {
                let r = found?;
                if format!("{}:{}", r.id.resource_type.as_str(), r.id.id) == *resource {
                    let profile: BTreeMap<_, _> = r.profile.into_iter().collect();
                    let text = serde_json::to_string_pretty(&profile)
                        .unwrap_or_else(|e| unreachable!("a profile is JSON: {e}"));
                    writeln!(out, "{text}")?;
                    return Ok(());
                }
            }
            Err(Stop::NoResource(resource.clone()))
        }
        Command::Resources { .. } => {
            writeln!(out, "{:<40} {:<16} display name", "id", "type")?;
            for resource in reader.resources() {
                let r = resource?;
                writeln!(
                    out,
                    "{:<40} {:<16} {}",
                    printable(&format!("{}:{}", r.id.resource_type.as_str(), r.id.id)),
                    printable(r.id.resource_type.as_str()),
                    printable(&r.display_name)
                )?;
            }
            Ok(())
        }
        Command::Grants { .. } => {
            writeln!(out, "{:<48} principal", "entitlement")?;
            for grant in reader.grants() {
                let g = grant?;
                writeln!(
                    out,
                    "{:<48} {}",
                    printable(&format!(
                        "{}:{}:{}",
                        g.entitlement.resource.resource_type.as_str(),
                        g.entitlement.resource.id,
                        g.entitlement.slug
                    )),
                    printable(&format!(
                        "{}:{}",
                        g.principal.resource_type.as_str(),
                        g.principal.id
                    ))
                )?;
            }
            Ok(())
        }
    }
}

fn stats(reader: &Reader, out: &mut impl Write) -> Result<(), Stop> {
    for sync in reader.syncs()? {
        let chosen = if sync.sync_id == reader.sync().sync_id {
            "  <- shown"
        } else {
            ""
        };
        writeln!(
            out,
            "sync {} {} started {} ended {}{chosen}",
            printable(&sync.sync_id),
            printable(&sync.sync_type),
            printable(&sync.started_at),
            printable(sync.ended_at.as_deref().unwrap_or("(unfinished)"))
        )?;
    }
    let mut resources: BTreeMap<String, u64> = BTreeMap::new();
    for rt in reader.resource_types()? {
        resources.insert(rt.id.as_str().to_owned(), 0);
    }
    for resource in reader.resources() {
        *resources
            .entry(resource?.id.resource_type.as_str().to_owned())
            .or_default() += 1;
    }
    let mut entitlements: BTreeMap<String, u64> = BTreeMap::new();
    for e in reader.entitlements() {
        *entitlements
            .entry(e?.id.resource.resource_type.as_str().to_owned())
            .or_default() += 1;
    }
    let mut grants: BTreeMap<String, u64> = BTreeMap::new();
    for g in reader.grants() {
        *grants
            .entry(g?.entitlement.resource.resource_type.as_str().to_owned())
            .or_default() += 1;
    }
    writeln!(out,)?;
    writeln!(
        out,
        "{:<16} {:>10} {:>12} {:>10}",
        "type", "resources", "entitlements", "grants"
    )?;
    for (t, n) in &resources {
        writeln!(
            out,
            "{:<16} {n:>10} {:>12} {:>10}",
            printable(t),
            entitlements.get(t).copied().unwrap_or(0),
            grants.get(t).copied().unwrap_or(0)
        )?;
    }
    Ok(())
}
