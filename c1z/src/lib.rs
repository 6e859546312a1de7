//! baton's `.c1z` sync files, so the people who run ConductorOne's baton connectors read our
//! syncs with the tools they already use (`baton resources`, `baton grants`, `baton diff`, the
//! explorer, ConductorOne's ingestion).
//!
//! * [`Writer`] turns one completed run of any [`connector_sdk::Store`] into a v1 `.c1z`:
//!   `C1ZF\0`, then one zstd frame holding an SQLite database with baton's seven tables and
//!   sixteen indexes, one finished `full` sync with a KSUID id, and every resource type,
//!   resource, entitlement and grant as a deterministic protobuf blob (`c1.connector.v2`).
//!   Rows are streamed a page at a time, so memory does not grow with the tenant. Writing into
//!   an existing file adds a sync and keeps the previous finished one, so `baton diff` has two.
//! * [`LiveWriter`] writes the same file while the sync runs, from the pages the engine stores
//!   (a [`connector_sdk::PageObserver`]), so a rate-limited sync's file is ready moments after
//!   the run completes; it writes from the store instead whenever it did not see the whole run.
//! * [`Reader`] reads v1 files, ours and baton's: the newest finished full sync, or a named one.
//!   Files in baton's newer Pebble container (`C1Z3`) are refused with a typed error; corrupt or
//!   truncated files, a wrong header, or a blob that disagrees with its row are typed errors.
//!
//! Ids are baton's: resources `<type>:<id>`, entitlements `<type>:<id>:<slug>`, grants
//! `<entitlement id>:<principal type>:<principal id>`. `docs/c1z.md` says what is written, how
//! it maps from the SDK model and what is not supported.
//!
//! ```no_run
//! # fn run(store: &dyn connector_sdk::Store, run: connector_sdk::RunId) -> Result<(), c1z::Error> {
//! let report = c1z::Writer::new().write(store, run, "sync.c1z".as_ref())?;
//! println!("{} grants in sync {}", report.grants, report.sync_id);
//! let reader = c1z::Reader::open("sync.c1z")?;
//! for grant in reader.grants() {
//!     println!("{}", grant?.id());
//! }
//! # Ok(()) }
//! ```

mod container;
mod convert;
mod error;
mod ksuid;
mod live;
mod pb;
mod reader;
mod rows;
pub mod wire;
mod writer;

pub use error::Error;
pub use live::LiveWriter;
pub use reader::{DEFAULT_MAX_DECODED, Reader, SyncInfo};
pub use writer::{WriteReport, Writer};
