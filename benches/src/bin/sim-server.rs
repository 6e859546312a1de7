//! Serves a generated simulated Coupa tenant until standard input closes, so a benchmark can
//! measure the sync in a process of its own.
//!
//! ```text
//! sim-server USERS LATENCY_MS RATE_LIMIT(0|1) [PER_SECOND]
//! ```
//!
//! With a rate limit, the bucket holds 20 requests and drains `PER_SECOND` (default 25, Coupa's).
//!
//! Prints the base URL on the first line of standard output.

use std::time::Duration;

use coupa_sim::{CoupaSim, RateLimit, SimOptions, Sizes, Tenant};
use tokio::io::AsyncReadExt;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let users = usize::try_from(arg(0, 10_000)).unwrap_or(10_000);
    let latency = Duration::from_millis(arg(1, 0));
    let mut options = SimOptions::default().with_latency(latency);
    if arg(2, 0) == 1 {
        let per_second = arg(3, 25) as f64;
        options = options.with_rate_limit(Some(RateLimit::new(per_second, 20)));
    }
    let sim = CoupaSim::start_with(Tenant::generate(7, Sizes::users(users)), options).await;
    println!("{}", sim.uri());
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    let counts = sim.counts();
    let limited = sim.requests().iter().filter(|r| r.status == 429).count();
    eprintln!("sim-server: {counts:?}, {limited} answered 429");
}
