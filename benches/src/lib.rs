//! Benchmarks and scale harnesses.
//!
//! * `cargo bench -p benches`: criterion micro-benchmarks.
//! * `cargo run --release -p benches --bin sdk-ingest`: the sync engine with [`SqliteStore`]
//!   ingesting the SDK's fake connector in its bulk shape, with no I/O (100 k resources,
//!   1.1 M grants by default); prints grants stored per second and peak RSS.
//!
//! [`SqliteStore`]: connector_sdk::SqliteStore

/// Peak resident set size of this process in bytes (Linux `VmHWM`), if the platform reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A client configuration for the simulated tenant `sim`, with no client-side rate limit.
pub fn sim_config(sim: &coupa_sim::CoupaSim) -> Result<coupa_client::Config, coupa_client::Error> {
    coupa_client::Config::for_test_server(&sim.uri(), sim.client_id(), sim.client_secret())
}
