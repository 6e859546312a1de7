//! The Coupa connector as a long-running service: syncs on a schedule, health probes, Prometheus
//! metrics, and an HTTP API to read and change access.
//!
//! ```text
//! SERVICE_TOKEN=… COUPA_DOMAIN=acme COUPA_CLIENT_ID=… COUPA_CLIENT_SECRET=… \
//!     cargo run --release --example coupa-service -- --out coupa.db --interval 1h
//! SERVICE_TOKEN=… cargo run --release --example coupa-service -- --sim
//! ```
//!
//! `/v1` needs `Authorization: Bearer $SERVICE_TOKEN`; without `SERVICE_TOKEN` the service
//! refuses to start (exit 2) unless `--insecure-no-auth` is given. It listens on 127.0.0.1:8080
//! by default. SIGTERM or Ctrl-C stops it: no new requests, the sync in flight is cancelled with
//! its progress kept (the next start resumes it), exit 0. See `docs/service.md`.

use connector_cli::{Cli, DefaultCommand};

fn main() -> std::process::ExitCode {
    Cli::new("coupa-service", coupa_cli::Coupa)
        .with_about("The Coupa connector as a service.")
        .with_default(DefaultCommand::Serve)
        .main()
}
