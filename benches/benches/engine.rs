//! Criterion benchmark of the sync engine with an in-memory `SqliteStore` and the SDK's fake
//! connector in its bulk shape, with no I/O.

#![allow(missing_docs)]

use std::sync::Arc;

use connector_sdk::testing::fake::{FakeTenant, Shape};
use connector_sdk::{SqliteStore, SyncConfig, SyncEngine};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio_util::sync::CancellationToken;

fn ingest(c: &mut Criterion) {
    let shape = Shape::bulk(5_000, 100, 10, 100);
    let grants = 5_000 * 11;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.throughput(Throughput::Elements(grants));
    group.bench_function("ingest 5k users 55k grants (sqlite, memory)", |b| {
        b.to_async(&runtime).iter(|| async {
            let store = Arc::new(SqliteStore::in_memory().expect("store"));
            let registry = FakeTenant::new(shape.clone()).registry();
            let engine = SyncEngine::new(registry, store, SyncConfig::default());
            let report = engine.run(&CancellationToken::new()).await.expect("sync");
            assert_eq!(report.counts.total_grants(), grants);
        });
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
