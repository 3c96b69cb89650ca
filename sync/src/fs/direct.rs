//! A file written around the page cache (`O_DIRECT`), for a large download
//! that nothing reads right away. Copying its bytes into the page cache is
//! what bounds writing one large file on Linux (the kernel's
//! `copy_folio_from_iter`), and it evicts what the user's programs had
//! cached. The bytes are gathered in an aligned buffer and written a whole
//! buffer at a time; the tail is written padded to the alignment, then the
//! file is cut to its length, and anything after it is written plainly.
//! Where the file system takes no direct writes, plain ones are used.

use std::{
    fs::File,
    io::{self, Seek, Write},
    os::{fd::AsRawFd, unix::fs::OpenOptionsExt},
    path::Path,
};

use super::WriteFile;

/// Direct writes start and end on multiples of this (the largest logical
/// block size of common disks).
const ALIGN: usize = 4096;
/// The bytes gathered for each direct write.
const CHUNK: usize = 4 * 1024 * 1024;

/// Creates or truncates the file at `path`, to be written around the page
/// cache where the file system can.
pub fn create(path: &Path) -> io::Result<Box<dyn WriteFile>> {
    let opened = File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(path);
    match opened {
        Ok(file) => {
            let buf = vec![0; CHUNK + ALIGN];
            let start = buf.as_ptr().align_offset(ALIGN);
            Ok(Box::new(DirectFile {
                file,
                buf,
                start,
                filled: 0,
                direct: true,
            }))
        }
        // Refused by this file system (some FUSE ones).
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(Box::new(File::create(path)?)),
        Err(e) => Err(e),
    }
}

/// Bytes gathered and not yet written are lost if it is dropped without a
/// [`WriteFile::sync_all`] (or a flush).
struct DirectFile {
    file: File,
    /// `CHUNK` bytes from `start` are aligned to `ALIGN`.
    buf: Vec<u8>,
    start: usize,
    /// The bytes gathered, not written yet.
    filled: usize,
    /// Still writing around the cache.
    direct: bool,
}

impl DirectFile {
    /// Writes the gathered bytes: padded to the alignment if they fall
    /// short of it, the padding then cut off (and the file written plainly
    /// from there, its end no longer aligned).
    fn write_gathered(&mut self) -> io::Result<()> {
        let len = self.filled;
        let padded = len.next_multiple_of(ALIGN);
        let chunk = &mut self.buf[self.start..self.start + padded];
        chunk[len..].fill(0);
        let mut done = 0;
        while done < padded {
            match self.file.write(&chunk[done..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Opened, but the file system takes no direct write (or a
                // short one left the end unaligned): plain writes go on.
                Err(e) if self.direct && e.raw_os_error() == Some(libc::EINVAL) => {
                    stop_direct(&self.file)?;
                    self.direct = false;
                }
                Err(e) => return Err(e),
            }
        }
        self.filled = 0;
        if padded > len {
            let end = self.file.stream_position()? - (padded - len) as u64;
            self.file.set_len(end)?;
            self.file.seek(io::SeekFrom::Start(end))?;
            if self.direct {
                stop_direct(&self.file)?;
                self.direct = false;
            }
        }
        Ok(())
    }
}

impl Write for DirectFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if !self.direct {
            return self.file.write(bytes);
        }
        let n = bytes.len().min(CHUNK - self.filled);
        let at = self.start + self.filled;
        self.buf[at..at + n].copy_from_slice(&bytes[..n]);
        self.filled += n;
        if self.filled == CHUNK {
            self.write_gathered()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.filled > 0 {
            self.write_gathered()?;
        }
        Ok(())
    }
}

impl WriteFile for DirectFile {
    fn sync_all(&mut self) -> io::Result<()> {
        self.flush()?;
        self.file.sync_all()
    }
}

/// Turns direct writes off for `file`: later writes go through the cache.
fn stop_direct(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: `fcntl` on this open file's descriptor, with integer
    // arguments only; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_DIRECT) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{DiskFs, Fs};

    /// Bytes that differ from one position to the next.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn what_is_written_is_read_back_whole_whatever_the_pieces() {
        let dir = tempfile::tempdir().expect("a temp dir");
        // Whole buffers and a tail, an aligned length, a short file, none.
        for len in [2 * CHUNK + 12_345, CHUNK + ALIGN, 100, 0] {
            let path = dir.path().join(format!("file-{len}"));
            let bytes = pattern(len);
            let mut file = create(&path).expect("created");
            // Pieces that fall across the buffer's edges.
            for piece in bytes.chunks(1_000_003) {
                file.write_all(piece).expect("written");
            }
            file.sync_all().expect("synced");
            assert_eq!(DiskFs.read(&path).expect("read"), bytes, "{len} bytes");

            // Written on after a sync: appended where the file ends.
            file.write_all(b"more").expect("written after");
            file.sync_all().expect("synced again");
            let mut longer = bytes;
            longer.extend_from_slice(b"more");
            assert_eq!(DiskFs.read(&path).expect("read"), longer, "{len} bytes, then more");
        }
    }

    #[test]
    fn an_existing_file_is_truncated() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("file");
        std::fs::write(&path, pattern(3 * ALIGN)).expect("an older file");
        let mut file = create(&path).expect("created");
        file.write_all(b"new").expect("written");
        file.sync_all().expect("synced");
        assert_eq!(DiskFs.read(&path).expect("read"), b"new");
    }
}
