//! [`LiveWriter`]: a sync's `.c1z` written while the sync runs, from the pages it stores.

mod database;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use connector_sdk::{Holder, PageObserver, RunId, Store, StoredPage};

use crate::Error;
use crate::writer::{WriteReport, Writer};
use database::Live;

/// Pages queued for the writer's thread. A sync that stores pages faster than the thread
/// writes them (one with no rate limit to wait on) fills the queue; the writer then stops, and
/// the file is written from the store afterwards, as [`Writer::write`] does.
const QUEUE: usize = 16;

impl Writer {
    /// A [`LiveWriter`] with these settings, following a sync of `store` (hand
    /// [`LiveWriter::observer`] to the engine). Its database lives in a temporary directory in
    /// `dir` until [`LiveWriter::finish`].
    pub fn live(&self, store: Arc<dyn Store>, dir: &Path) -> Result<LiveWriter, Error> {
        LiveWriter::start(self.clone(), store, dir)
    }
}

/// Writes a sync's `.c1z` while the sync runs: the engine hands it each page it stores (as a
/// [`PageObserver`]), a thread of its own writes the page's rows and keeps baton's indexes up,
/// and [`finish`](Self::finish) adds the sync's own row and compresses the file. A sync held
/// back by a rate limit leaves the CPU idle between pages; this uses that time, so the file is
/// ready moments after the run completes instead of being read back from the store then.
///
/// The file holds exactly what [`Writer::write`] writes from the store for the same run (the
/// same rows and blobs; only the row order differs). Whenever that cannot be assured the
/// writer steps aside and `finish` writes from the store: a resumed run (its earlier pages were
/// stored before), a sync that stores pages faster than they are written (the queue is
/// bounded), a file that already holds syncs, a failure of the writer's own, or rows that do
/// not add up to the run's counts. [`WriteReport::written_during_sync`] says which happened;
/// the log says why.
///
/// ```no_run
/// # async fn run(
/// #     registry: connector_sdk::Registry,
/// #     store: std::sync::Arc<connector_sdk::SqliteStore>,
/// # ) -> Result<(), Box<dyn std::error::Error>> {
/// use connector_sdk::{SyncConfig, SyncEngine};
///
/// let live = c1z::Writer::new().live(store.clone(), &std::env::temp_dir())?;
/// let engine = SyncEngine::new(registry, store, SyncConfig::default())
///     .with_observer(live.observer());
/// let report = engine.run(&Default::default()).await?;
/// // `finish` blocks (the file is completed and compressed): off the runtime's threads.
/// let written =
///     tokio::task::spawn_blocking(move || live.finish(report.run, "sync.c1z".as_ref())).await??;
/// println!("{} grants, written during the sync: {}", written.grants, written.written_during_sync);
/// # Ok(()) }
/// ```
pub struct LiveWriter {
    writer: Writer,
    store: Arc<dyn Store>,
    sink: Arc<Sink>,
    /// Asks the thread to complete the file for a run, at a path.
    finishing: Option<SyncSender<(RunId, PathBuf)>>,
    thread: Option<JoinHandle<Result<Done, Error>>>,
    work: tempfile::TempDir,
}

impl fmt::Debug for LiveWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveWriter")
            .field("writer", &self.writer)
            .field("status", &self.sink.lock().status)
            .field("work", &self.work.path())
            .finish_non_exhaustive()
    }
}

impl LiveWriter {
    fn start(writer: Writer, store: Arc<dyn Store>, dir: &Path) -> Result<Self, Error> {
        sweep(dir);
        let work = tempfile::Builder::new()
            .prefix(WORK_PREFIX)
            .tempdir_in(dir)
            .map_err(Error::io(dir))?;
        // Who writes here, so that a later writer can tell this directory from one a killed
        // process left behind (its database is as large as the sync got).
        let holder = work.path().join(HOLDER);
        let recorded = serde_json::to_vec(&Holder::current()).map_err(|e| Error::Io {
            path: holder.clone(),
            source: e.into(),
        })?;
        std::fs::write(&holder, recorded).map_err(Error::io(&holder))?;
        let (sender, receiver) = std::sync::mpsc::sync_channel(QUEUE);
        let db = work.path().join("db.sqlite");
        let gave_up = Arc::new(AtomicBool::new(false));
        let (finishing, finish) = std::sync::mpsc::sync_channel::<(RunId, PathBuf)>(1);
        let thread = {
            let (store, writer, gave_up) = (store.clone(), writer.clone(), gave_up.clone());
            let dir = work.path().to_owned();
            std::thread::Builder::new()
                .name("c1z-live".into())
                .spawn(move || {
                    let Some(live) = follow(&receiver, &gave_up, store.as_ref(), &writer, &db)?
                    else {
                        return Ok(Done::Unused);
                    };
                    // The file is completed and compressed on this thread too: the compressor
                    // reuses the memory the database let go of, rather than adding its own.
                    Ok(match finish.recv() {
                        Ok((run, path)) if run == live.run() => {
                            Done::Finished(live.finish(store.as_ref(), &writer, &dir, &path))
                        }
                        _ => Done::Unused,
                    })
                })
                .map_err(Error::io(work.path()))?
        };
        Ok(Self {
            writer,
            store,
            sink: Arc::new(Sink(Mutex::new(SinkState {
                sender: Some(sender),
                status: Status::Waiting,
                gave_up,
            }))),
            finishing: Some(finishing),
            thread: Some(thread),
            work,
        })
    }

    /// What to hand the engine ([`connector_sdk::SyncEngine::with_observer`]).
    pub fn observer(&self) -> Arc<dyn PageObserver> {
        self.sink.clone()
    }

    /// Writes completed `run` to the `.c1z` at `path`: from the rows written during the sync
    /// when they are the whole run, from the store otherwise (as [`Writer::write`], which also
    /// adds the run to a file already at `path`). Blocks: call it off an async runtime.
    pub fn finish(mut self, run: RunId, path: &Path) -> Result<WriteReport, Error> {
        let status = self.sink.close();
        let occupied = std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
        // Asked to complete the file only for the run it followed whole; otherwise the sender
        // goes here and the thread stops.
        if let Some(finishing) = self.finishing.take()
            && status == Status::Drained(run)
            && !occupied
        {
            // The thread waits for this (or has stopped, which joining tells).
            let _ = finishing.send((run, path.to_owned()));
        }
        let done = self.thread.take().map(JoinHandle::join);
        let (why, failed) = match (status, done) {
            _ if occupied => (
                "the file already holds syncs; the run is added to them from the store".into(),
                false,
            ),
            (Status::Drained(r), Some(Ok(Ok(Done::Finished(finished))))) if r == run => {
                match finished {
                    Ok(report) => return Ok(report),
                    Err(why) => (why, true),
                }
            }
            (Status::Drained(_), Some(Ok(Err(error)))) => (
                format!("it failed: {}", connector_sdk::error_chain(&error)),
                true,
            ),
            (Status::Drained(_), Some(Err(_))) => ("its thread panicked".into(), true),
            (Status::Drained(r), _) if r != run => {
                (format!("it followed run {r}, not run {run}"), true)
            }
            (Status::Drained(_), _) => ("it did not complete the file".into(), true),
            (Status::GaveUp(why), _) => (why, false),
            (Status::Waiting, _) => ("no run started".into(), false),
            (Status::Live(_), _) => ("the sync did not store all its pages".into(), false),
        };
        if failed {
            tracing::warn!(%run, reason = %why,
                "the .c1z written during the sync is not used; writing it from the store");
        } else {
            tracing::info!(%run, reason = %why, "writing the .c1z from the store");
        }
        self.writer.write(self.store.as_ref(), run, path)
    }
}

impl Drop for LiveWriter {
    fn drop(&mut self) {
        // The thread writes what is queued and stops; its database goes with `work`.
        self.sink.close();
    }
}

/// The prefix of a writer's working directory.
const WORK_PREFIX: &str = ".c1z-live-";

/// The file in a working directory naming the process that writes there.
const HOLDER: &str = "holder.json";

/// Removes the working directories in `dir` whose process is gone (killed during a sync, it
/// left its database behind). A directory whose holder may be alive (on another host, or one
/// that has not written its holder yet) is left alone; nothing here fails a sync.
fn sweep(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(WORK_PREFIX) {
            continue;
        }
        let path = entry.path();
        let holder = std::fs::read(path.join(HOLDER))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Holder>(&bytes).ok());
        if holder.is_some_and(|h| !h.may_be_alive()) {
            match std::fs::remove_dir_all(&path) {
                Ok(()) => tracing::info!(path = %path.display(),
                    "removed a .c1z database a stopped process left behind"),
                Err(error) => tracing::warn!(path = %path.display(), %error,
                    "could not remove a .c1z database a stopped process left behind"),
            }
        }
    }
}

/// Where the writer is in the sync.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Status {
    /// No run started yet.
    Waiting,
    /// Following this run's pages.
    Live(RunId),
    /// Every page of this run was handed on.
    Drained(RunId),
    /// Stopped following, for this reason.
    GaveUp(String),
}

/// How the thread ended.
enum Done {
    /// It followed no whole run, or was not asked to complete one.
    Unused,
    /// It completed the file (its report), or why the rows could not be used.
    Finished(Result<WriteReport, String>),
}

enum Note {
    Started(RunId),
    Page(StoredPage),
}

struct SinkState {
    sender: Option<SyncSender<Note>>,
    status: Status,
    /// Set with [`Status::GaveUp`], for the thread.
    gave_up: Arc<AtomicBool>,
}

/// The engine's side: hands pages to the thread without ever waiting for it.
struct Sink(Mutex<SinkState>);

impl Sink {
    fn lock(&self) -> MutexGuard<'_, SinkState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops handing pages on; the status at that moment.
    fn close(&self) -> Status {
        let mut state = self.lock();
        state.sender = None;
        state.status.clone()
    }
}

impl SinkState {
    fn give_up(&mut self, why: String) {
        self.gave_up.store(true, Ordering::Relaxed);
        self.sender = None;
        if !matches!(self.status, Status::GaveUp(_)) {
            self.status = Status::GaveUp(why);
        }
    }

    fn send(&mut self, message: Note) {
        let Some(sender) = &self.sender else {
            return;
        };
        match sender.try_send(message) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.give_up(format!(
                "the sync stored pages faster than they were written ({QUEUE} were queued)"
            )),
            Err(TrySendError::Disconnected(_)) => {
                self.give_up("the writer's thread stopped".into());
            }
        }
    }
}

impl PageObserver for Sink {
    fn started(&self, run: RunId, resumed: bool) {
        let mut state = self.lock();
        match (&state.status, resumed) {
            (Status::Waiting, false) => {
                state.status = Status::Live(run);
                state.send(Note::Started(run));
            }
            (Status::Waiting, true) => state.give_up(format!(
                "run {run} was resumed: the pages stored before this sync are not handed on"
            )),
            _ => state.give_up(format!("a second run ({run}) started")),
        }
    }

    fn stored(&self, run: RunId, page: StoredPage) {
        let mut state = self.lock();
        if state.status == Status::Live(run) {
            state.send(Note::Page(page));
        }
    }

    fn drained(&self, run: RunId) {
        let mut state = self.lock();
        if state.status == Status::Live(run) {
            state.status = Status::Drained(run);
        }
    }
}

/// The thread: waits for the run, then writes each page (those queued together in one
/// transaction) until the engine's side closes. `None` when no run started.
fn follow(
    receiver: &Receiver<Note>,
    gave_up: &AtomicBool,
    store: &dyn Store,
    writer: &Writer,
    db: &Path,
) -> Result<Option<Live>, Error> {
    let Ok(Note::Started(run)) = receiver.recv() else {
        return Ok(None);
    };
    let mut live = Live::begin(db, store, writer, run)?;
    while let Ok(message) = receiver.recv() {
        if gave_up.load(Ordering::Relaxed) {
            return Ok(None);
        }
        live.begin_batch()?;
        let mut next = Some(message);
        while let Some(message) = next {
            let Note::Page(page) = message else {
                return Ok(None);
            };
            live.page(&page)?;
            next = receiver.try_recv().ok();
        }
        live.commit_batch()?;
    }
    // Given up: its database (and the memory it holds) goes now, not when the sync ends.
    if gave_up.load(Ordering::Relaxed) {
        return Ok(None);
    }
    live.drop_caches()?;
    Ok(Some(live))
}
