//! The v1 container: `C1ZF\0`, then one zstd frame holding the SQLite main database file.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use crate::Error;

/// The v1 header.
pub(crate) const V1_HEADER: &[u8; 5] = b"C1ZF\0";
/// The header of baton's Pebble container.
pub(crate) const PEBBLE_HEADER: &[u8; 5] = b"C1Z3\0";

/// The largest window a reader accepts (baton's readers allow 128 MiB).
const MAX_WINDOW_LOG: u32 = 27;
/// The window the writer uses (8 MiB, as baton's writers).
const WINDOW_LOG: u32 = 23;

/// Compresses the SQLite file `db` into the `.c1z` at `out`: the header, then one zstd frame
/// (level `level`, checksum, content size, window at most 8 MiB). `out` is synced to disk.
pub(crate) fn compress(db: &Path, out: &Path, level: i32) -> Result<(), Error> {
    let input = File::open(db).map_err(Error::io(db))?;
    let size = input.metadata().map_err(Error::io(db))?.len();
    let file = connector_sdk::files::create_private(out).map_err(Error::io(out))?;
    let mut writer = BufWriter::new(file);
    writer.write_all(V1_HEADER).map_err(Error::io(out))?;
    let mut encoder = zstd::stream::Encoder::new(writer, level).map_err(Error::io(out))?;
    let configure = |encoder: &mut zstd::stream::Encoder<'_, BufWriter<File>>| {
        encoder.include_checksum(true)?;
        encoder.include_contentsize(true)?;
        encoder.window_log(WINDOW_LOG)?;
        encoder.set_pledged_src_size(Some(size))
    };
    configure(&mut encoder).map_err(Error::io(out))?;
    std::io::copy(&mut BufReader::new(input), &mut encoder).map_err(Error::io(out))?;
    let writer = encoder.finish().map_err(Error::io(out))?;
    let file = writer
        .into_inner()
        .map_err(|e| Error::io(out)(e.into_error()))?;
    file.sync_all().map_err(Error::io(out))?;
    Ok(())
}

/// Checks the header of `path` and decompresses its database into `db`, refusing more than
/// `limit` bytes. A 0-byte file is refused like any other bad header.
pub(crate) fn decompress(path: &Path, db: &Path, limit: u64) -> Result<(), Error> {
    let file = File::open(path).map_err(Error::io(path))?;
    let mut reader = BufReader::new(file);
    let mut header = Vec::with_capacity(5);
    (&mut reader)
        .take(5)
        .read_to_end(&mut header)
        .map_err(Error::io(path))?;
    if header.as_slice() == PEBBLE_HEADER {
        return Err(Error::PebbleContainer);
    }
    if header.as_slice() != V1_HEADER {
        return Err(Error::BadHeader { found: header });
    }
    // A frame that declares a content size over the cap is refused before anything is written.
    let declared =
        zstd::zstd_safe::get_frame_content_size(reader.fill_buf().map_err(Error::io(path))?);
    if let Ok(Some(size)) = declared
        && size > limit
    {
        return Err(Error::TooLarge { limit });
    }
    let mut decoder = zstd::stream::read::Decoder::with_buffer(reader)
        .map_err(Error::Decompress)?
        .single_frame();
    decoder
        .window_log_max(MAX_WINDOW_LOG)
        .map_err(Error::Decompress)?;
    let out = connector_sdk::files::create_private(db).map_err(Error::io(db))?;
    let mut writer = BufWriter::new(out);
    let copied = std::io::copy(&mut (&mut decoder).take(limit + 1), &mut writer)
        .map_err(Error::Decompress)?;
    if copied > limit {
        return Err(Error::TooLarge { limit });
    }
    writer.flush().map_err(Error::io(db))?;
    if copied == 0 {
        return Err(Error::Decompress(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the payload holds no database",
        )));
    }
    Ok(())
}
