//! Files that hold identities (stores, journals, `.c1z` files): created readable by their owner
//! only (`0600`), whatever the umask. An existing file with wider permissions is left as it is,
//! since an operator may have chosen them, but a warning names it.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Permission bits of a private file.
#[cfg(unix)]
const PRIVATE: u32 = 0o600;

/// Creates `path` (or truncates it when it exists) for writing: a new file is private; an
/// existing one keeps its permissions, with a warning when others may read it.
pub fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE);
    warn_if_shared(path);
    options.open(path)
}

/// Makes sure `path` exists, creating it empty and private when it does not; an existing file
/// is left as it is, with a warning when others may read it.
pub fn ensure_private(path: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            warn_if_shared(path);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The permission bits of `path` when others than its owner may read or write it.
pub fn shared_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Logs a warning when others than its owner may read or write `path`.
pub fn warn_if_shared(path: &Path) {
    if let Some(mode) = shared_mode(path) {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:o}"),
            "this file holds identities and others may read it; left as it is (chmod 600 to \
             make it private)"
        );
    }
}
