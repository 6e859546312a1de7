//! Criterion benchmark of the sync engine with an in-memory `SqliteStore` and a synthetic
//! connector with no I/O.

#![allow(missing_docs)]

use std::sync::Arc;

use benches::synthetic::{Size, registry};
use connector_sdk::{SqliteStore, SyncConfig, SyncEngine};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio_util::sync::CancellationToken;

fn ingest(c: &mut Criterion) {
    let size = Size {
        users: 5_000,
        groups: 100,
        grants_per_user: 10,
        page_size: 100,
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.throughput(Throughput::Elements(size.grants()));
    group.bench_function("ingest 5k users 50k grants (sqlite, memory)", |b| {
        b.to_async(&runtime).iter(|| async {
            let store = Arc::new(SqliteStore::in_memory().expect("store"));
            let engine = SyncEngine::new(registry(size), store, SyncConfig::default());
            let report = engine.run(&CancellationToken::new()).await.expect("sync");
            assert_eq!(report.counts.total_grants(), size.grants());
        });
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
