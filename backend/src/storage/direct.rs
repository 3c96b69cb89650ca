//! Block files written and read around the page cache (`O_DIRECT`). Every
//! block is fsynced before it is acknowledged, so the cache buys a write
//! nothing, while copying into fresh cache pages was half of what receiving
//! a large upload cost (the kernel's `copy_folio_from_iter`); and a block
//! read back through the cache was copied out of it again, most of what
//! serving one cost (`_copy_to_iter`).
//!
//! A block written is copied into an aligned buffer kept for reuse (a fresh
//! one costs its first touch, as the cache did), padded to the alignment,
//! written, then cut to its length. A block read lands in an aligned buffer
//! that becomes the response's body. Where the file system takes no direct
//! I/O, the plain calls are used.

use std::{
    fs::File,
    io::{self, Write},
    path::Path,
    sync::Mutex,
};

use axum::body::Bytes;

/// Direct writes start and end on multiples of this (the largest logical
/// block size of common disks).
const ALIGN: usize = 4096;
/// Smaller blocks are written and read plainly: for them the copy costs
/// little, and padding much.
const DIRECT_FROM: u64 = 256 * 1024;
/// Buffers kept for reuse, at most (as many as one client's uploads in
/// flight), and the largest kept (the clients' largest block): at most
/// 32 MiB held between uploads.
const KEPT: usize = 8;
const KEPT_SIZE: usize = 4 * 1024 * 1024 + ALIGN;

/// Aligned buffers for direct writes, kept between blocks.
#[derive(Default)]
pub struct Buffers(Mutex<Vec<Vec<u8>>>);

impl Buffers {
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .map(|mut kept| kept.pop())
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    fn give_back(&self, buf: Vec<u8>) {
        if buf.len() > KEPT_SIZE {
            return;
        }
        if let Ok(mut kept) = self.0.lock() {
            if kept.len() < KEPT {
                kept.push(buf);
            }
        }
    }
}

/// Whether a block of `len` bytes is written and read around the cache.
pub fn is_direct(len: u64) -> bool {
    cfg!(target_os = "linux") && len >= DIRECT_FROM
}

/// Creates the file at `path` holding `pieces` one after the other, written
/// around the page cache where the file system can; not synced. Returns the
/// open file.
pub fn create(path: &Path, pieces: &[impl AsRef<[u8]>], buffers: &Buffers) -> io::Result<File> {
    #[cfg(target_os = "linux")]
    if is_direct(pieces.iter().map(|piece| piece.as_ref().len() as u64).sum()) {
        let mut buf = buffers.take();
        let written = write_direct(path, pieces, &mut buf);
        buffers.give_back(buf);
        match written {
            // Refused by this file system (some FUSE ones, tmpfs before 6.6).
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            other => return other,
        }
    }
    let _ = buffers;
    let mut file = File::create(path)?;
    for piece in pieces {
        file.write_all(piece.as_ref())?;
    }
    Ok(file)
}

/// The `len` bytes of the file at `path`, read around the page cache;
/// `None` where that is not done (a small block, a file system without
/// direct reads), for the caller to read plainly.
pub fn read(path: &Path, len: u64) -> io::Result<Option<Bytes>> {
    #[cfg(target_os = "linux")]
    if is_direct(len) {
        use std::{io::Read, os::unix::fs::OpenOptionsExt};
        let len = usize::try_from(len).map_err(io::Error::other)?;
        let mut file = match File::options().read(true).custom_flags(libc::O_DIRECT).open(path) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Ok(None),
            opened => opened?,
        };
        let padded = len.next_multiple_of(ALIGN);
        let mut buf = vec![0; padded + ALIGN];
        let start = buf.as_ptr().align_offset(ALIGN);
        let mut done = 0;
        while done < len {
            // Each read but the last (which meets the end) is aligned.
            match file.read(&mut buf[start + done..start + padded]) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        return Ok(Some(Bytes::from(buf).slice(start..start + len)));
    }
    let _ = (path, len);
    Ok(None)
}

#[cfg(target_os = "linux")]
fn write_direct(path: &Path, pieces: &[impl AsRef<[u8]>], buf: &mut Vec<u8>) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let len: usize = pieces.iter().map(|piece| piece.as_ref().len()).sum();
    let padded = len.next_multiple_of(ALIGN);
    if buf.len() < padded + ALIGN {
        buf.resize(padded + ALIGN, 0);
    }
    let start = buf.as_ptr().align_offset(ALIGN);
    let mut at = start;
    for piece in pieces {
        let piece = piece.as_ref();
        buf[at..at + piece.len()].copy_from_slice(piece);
        at += piece.len();
    }
    buf[at..start + padded].fill(0);
    let mut file = File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)?;
    file.write_all(&buf[start..start + padded])?;
    file.set_len(len as u64)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_is_written_and_read_whole_in_any_pieces_and_sizes() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let buffers = Buffers::default();
        // Below the direct writes, aligned, not aligned; then a smaller one
        // in a buffer a larger one left (its tail must not leak).
        for len in [1000, 4 * 1024 * 1024, 3 * 1024 * 1024 + 7, DIRECT_FROM as usize + 1] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let pieces: Vec<&[u8]> = bytes.chunks(65_537).collect();
            let path = dir.path().join(format!("block-{len}"));
            let file = create(&path, &pieces, &buffers).expect("written");
            file.sync_all().expect("synced");
            assert_eq!(std::fs::read(&path).expect("read"), bytes, "{len} bytes");
            match read(&path, len as u64).expect("read directly") {
                Some(read) => assert_eq!(read, bytes, "{len} bytes read directly"),
                None => assert!((len as u64) < DIRECT_FROM, "{len} bytes not read directly"),
            }
        }
        // A block shorter on disk than its size is an error, not a short body.
        let path = dir.path().join("short");
        std::fs::write(&path, vec![1; DIRECT_FROM as usize]).expect("written");
        let short = read(&path, DIRECT_FROM + 1).expect_err("too short");
        assert_eq!(short.kind(), io::ErrorKind::UnexpectedEof);
    }
}
