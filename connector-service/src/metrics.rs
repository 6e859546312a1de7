//! Prometheus metrics (OpenMetrics text), from a registry of the service's own: several services
//! in one process never share counters.

use std::sync::atomic::AtomicU64;

use connector_sdk::{Stat, SyncReport};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

pub(crate) struct Metrics {
    registry: Registry,
    runs: Family<Labels, Counter>,
    duration: Histogram,
    last_success: Gauge<f64, AtomicU64>,
    resources: Family<Labels, Gauge>,
    grants: Family<Labels, Gauge>,
    connections: Gauge,
    /// The connector's own counters, registered under their names at start.
    stats: Vec<(String, Gauge)>,
}

impl Metrics {
    /// Metrics for a connector whose counters are now `stats` (their names and help texts are
    /// registered once).
    pub(crate) fn new(stats: Vec<Stat>) -> Self {
        let mut registry = Registry::default();
        let runs = Family::<Labels, Counter>::default();
        registry.register(
            "connector_sync_runs",
            "Syncs ended, by outcome (completed, failed, cancelled)",
            runs.clone(),
        );
        let duration = Histogram::new([1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14_400.0]);
        registry.register(
            "connector_sync_duration_seconds",
            "How long syncs took",
            duration.clone(),
        );
        let last_success = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "connector_sync_last_success_timestamp_seconds",
            "When the last completed sync ended, in seconds since the Unix epoch",
            last_success.clone(),
        );
        let resources = Family::<Labels, Gauge>::default();
        registry.register(
            "connector_resources",
            "Resources in the latest completed sync, by resource type",
            resources.clone(),
        );
        let grants = Family::<Labels, Gauge>::default();
        registry.register(
            "connector_grants",
            "Grants in the latest completed sync, by the entitlement's resource type",
            grants.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "connector_http_connections",
            "HTTP connections open now",
            connections.clone(),
        );
        let stats = stats
            .into_iter()
            .map(|stat| {
                let gauge = Gauge::default();
                gauge.set(i64::try_from(stat.value).unwrap_or(i64::MAX));
                registry.register(stat.name.clone(), stat.help, gauge.clone());
                (stat.name, gauge)
            })
            .collect();
        Self {
            registry,
            runs,
            duration,
            last_success,
            resources,
            grants,
            connections,
            stats,
        }
    }

    /// The gauge of open HTTP connections.
    pub(crate) fn connections(&self) -> Gauge {
        self.connections.clone()
    }

    /// Records a sync that ended with `outcome` after `seconds`.
    pub(crate) fn ended(&self, outcome: &str, seconds: f64) {
        self.runs
            .get_or_create(&vec![("outcome".to_owned(), outcome.to_owned())])
            .inc();
        self.duration.observe(seconds);
    }

    /// Records a completed sync's counts.
    pub(crate) fn completed(&self, report: &SyncReport, ended_at_seconds: f64) {
        self.last_success.set(ended_at_seconds);
        self.resources.clear();
        for (t, n) in &report.counts.resources {
            self.resources
                .get_or_create(&vec![("resource_type".to_owned(), t.as_str().to_owned())])
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
        self.grants.clear();
        for (t, n) in &report.counts.grants {
            self.grants
                .get_or_create(&vec![("resource_type".to_owned(), t.as_str().to_owned())])
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
    }

    /// The text a scrape gets, with the connector's counters as they are now.
    pub(crate) fn render(&self, stats: Vec<Stat>) -> String {
        for stat in stats {
            if let Some((_, gauge)) = self.stats.iter().find(|(name, _)| *name == stat.name) {
                gauge.set(i64::try_from(stat.value).unwrap_or(i64::MAX));
            }
        }
        let mut text = String::new();
        if encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}
