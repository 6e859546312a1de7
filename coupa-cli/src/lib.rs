//! The Coupa connector as programs, on `connector_cli`: [`Coupa`] says how the Coupa flags
//! (the tenant, real or simulated by flag) become a registration, and the binaries
//! `coupa-sync`, `coupa-provision` and `coupa-service` are it with another default subcommand.
//!
//! `cargo install coupa-cli` installs the three programs. The `sim` feature (on by default)
//! adds `--sim` and `--sim-fixture`, which act on a simulated tenant; a production build (the
//! container image) turns it off: `--no-default-features`.

mod connector;
pub mod tenant;

pub use connector::{Coupa, CoupaArgs};
