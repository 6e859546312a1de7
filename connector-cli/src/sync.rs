//! `sync`: the engine into a SQLite file, a progress line, a summary, and optionally a `.c1z`.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use connector_sdk::{
    Registry, RetryPolicy, Stat, SyncConfig, SyncEngine, SyncEvent, SyncReport, error_chain,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::command::SyncArgs;
use crate::{CliError, ConnectorCli, Ctx, OpenFor};

pub(crate) async fn run<C: ConnectorCli>(
    ctx: &Ctx<'_, C>,
    args: SyncArgs,
) -> Result<String, CliError> {
    let opened = ctx.open(OpenFor::Sync).await?;
    let registry = opened.registry.clone();
    // Its warnings are the sync's too: the engine reports them.
    registry.validate().await?;
    let store = args.out.open().await?;
    let writer = c1z::Writer::new().with_fingerprint_change(args.switch_tenant);
    // A new `.c1z` is written while the sync runs (a rate-limited sync leaves the time); one
    // that already holds syncs gains this one from the store afterwards.
    let live =
        match &args.c1z {
            Some(path) if !std::fs::metadata(path).is_ok_and(|m| m.len() > 0) => {
                let dir = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new("."));
                Some(writer.live(store.clone(), dir).map_err(|e| {
                    CliError::failed("the .c1z could not be started").with_source(e)
                })?)
            }
            _ => None,
        };
    let mut engine = SyncEngine::new(
        registry.clone(),
        store.clone(),
        SyncConfig::default()
            .with_workers(args.workers)
            .with_resume(!args.fresh)
            .with_keep_runs(NonZeroUsize::new(args.keep_runs))
            .with_fingerprint_change(args.switch_tenant)
            .with_retry(RetryPolicy::default().with_max_attempts(3)),
    );
    if let Some(live) = &live {
        engine = engine.with_observer(live.observer());
    }
    let progress = tokio::spawn(show_progress(ctx.name, engine.subscribe()));
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    let signals = tokio::spawn(async move {
        crate::shutdown_signal().await;
        on_signal.cancel();
    });
    let started = Instant::now();
    let result = engine.run(&cancel).await;
    signals.abort();
    drop(engine);
    let _ = progress.await;
    let report = match result {
        Ok(report) => report,
        Err(connector_sdk::Error::Cancelled) => {
            return Err(CliError::failed(format!(
                "interrupted; run again with --out {} to resume",
                args.out
            )));
        }
        Err(e @ connector_sdk::Error::OtherFingerprint { .. }) => {
            return Err(CliError::failed(format!(
                "{}; pass --switch-tenant to sync into {} anyway",
                error_chain(&e),
                args.out
            ))
            .with_source(e));
        }
        Err(e) => return Err(e.into()),
    };
    let summary = Summary::new(&registry, &report, started.elapsed());
    let mut out = if ctx.json {
        summary.json()
    } else {
        summary.table(&args.out)
    };
    if let Some(path) = &args.c1z {
        let target = path.clone();
        let run = report.run;
        let written = tokio::task::spawn_blocking(move || match live {
            Some(live) => live.finish(run, &target),
            None => writer.write(store.as_ref(), run, &target),
        })
        .await
        .map_err(|e| CliError::failed("the .c1z writer stopped").with_source(e))?
        .map_err(|e| match e {
            c1z::Error::OtherFingerprint { .. } => CliError::failed(format!(
                "{}; pass --switch-tenant to write into it anyway",
                error_chain(&e)
            ))
            .with_source(e),
            e => CliError::failed("the .c1z could not be written").with_source(e),
        })?;
        if !ctx.json {
            out.push_str(&format!(
                "{:<22} {} (sync {}, {} bytes)\n",
                "baton .c1z",
                path.display(),
                written.sync_id,
                written.bytes
            ));
        }
    }
    if let Some(path) = &args.summary_json {
        std::fs::write(path, summary.json()).map_err(|e| {
            CliError::failed(format!("cannot write {}", path.display())).with_source(e)
        })?;
    }
    drop(opened);
    Ok(out)
}

/// A spinner on a terminal, a line every 2 s otherwise; warnings as they come.
async fn show_progress(name: &str, mut events: futures::stream::BoxStream<'static, SyncEvent>) {
    let terminal = std::io::stderr().is_terminal();
    let bar = terminal.then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let mut last_line = Instant::now();
    while let Some(event) = futures::StreamExt::next(&mut events).await {
        match event {
            SyncEvent::PageStored {
                stage, progress, ..
            } => {
                let line = format!(
                    "{stage}: {} pages, {} resources, {} grants, {} retries, {} rate-limit waits",
                    progress.pages,
                    progress.resources,
                    progress.grants,
                    progress.retries,
                    progress.rate_limit_waits
                );
                match &bar {
                    Some(bar) => bar.set_message(line),
                    None if last_line.elapsed() >= Duration::from_secs(2) => {
                        eprintln!("{name}: {line}");
                        last_line = Instant::now();
                    }
                    None => {}
                }
            }
            SyncEvent::Warning { message } => match &bar {
                Some(bar) => bar.println(format!("warning: {message}")),
                None => eprintln!("{name}: warning: {message}"),
            },
            SyncEvent::Started { resumed: true, run } => {
                eprintln!("{name}: resuming run {run}");
            }
            _ => {}
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

/// The summary printed as a table or written as JSON.
struct Summary {
    /// Resource types in registration order, with their resource and grant counts (`None`:
    /// the type has no entitlements with grants).
    types: Vec<(String, u64, Option<u64>)>,
    stats: Vec<Stat>,
    duration: Duration,
    warnings: Vec<String>,
    run: connector_sdk::RunId,
    resumed: bool,
}

impl Summary {
    fn new(registry: &Registry, report: &SyncReport, duration: Duration) -> Self {
        let counts = &report.counts;
        let types = registry
            .resource_types()
            .into_iter()
            .map(|t| {
                let resources = counts.resources.get(&t.id).copied().unwrap_or(0);
                (
                    t.id.to_string(),
                    resources,
                    counts.grants.get(&t.id).copied(),
                )
            })
            .collect();
        Self {
            types,
            stats: registry.stats(),
            duration,
            warnings: report.warnings.clone(),
            run: report.run,
            resumed: report.resumed,
        }
    }

    fn table(&self, out: &crate::StoreTarget) -> String {
        let mut text = format!(
            "Synced into {} (run {}{})\n\n",
            out,
            self.run,
            if self.resumed { ", resumed" } else { "" }
        );
        text.push_str(&format!(
            "{:<15} {:>10} {:>10}\n",
            "type", "resources", "grants"
        ));
        for (name, resources, grants) in &self.types {
            let grants = grants.map_or("-".to_owned(), |g| g.to_string());
            text.push_str(&format!("{name:<15} {resources:>10} {grants:>10}\n"));
        }
        text.push('\n');
        for stat in &self.stats {
            text.push_str(&format!("{:<30} {}\n", stat.help, stat.value));
        }
        text.push_str(&format!(
            "{:<30} {:.2} s\n",
            "duration",
            self.duration.as_secs_f64()
        ));
        for warning in &self.warnings {
            text.push_str(&format!("warning: {warning}\n"));
        }
        text
    }

    fn json(&self) -> String {
        let resources: BTreeMap<&str, u64> = self
            .types
            .iter()
            .map(|(t, n, _)| (t.as_str(), *n))
            .collect();
        let grants: BTreeMap<&str, u64> = self
            .types
            .iter()
            .filter_map(|(t, _, g)| g.map(|g| (t.as_str(), g)))
            .collect();
        let stats: BTreeMap<&str, u64> = self
            .stats
            .iter()
            .map(|s| (s.name.as_str(), s.value))
            .collect();
        let value = json!({
            "resources": resources,
            "grants": grants,
            "stats": stats,
            "duration_ms": u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX),
            "warnings": self.warnings,
            "run": self.run,
            "resumed": self.resumed,
        });
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        text
    }
}
