//! Content-defined chunking: splits a file into blocks whose boundaries depend on
//! the bytes around them (FastCDC 2020), so an insertion in the middle of a large
//! file changes one or two blocks instead of every block after it. Each block is
//! addressed by the SHA-256 of its bytes.
//!
//! Chunking is streaming: a few `MAX_CHUNK` buffers at most are held,
//! whatever the size of the file.

use std::{
    io::{self, Read},
    path::Path,
};

use drive_wire::{BlockHash, BlockRef};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fs::Fs;

/// No block is smaller than this, except the last (or only) block of a file.
pub const MIN_CHUNK: u32 = 256 * 1024;
/// Target average block size.
pub const AVG_CHUNK: u32 = 1024 * 1024;
/// No block is larger than this.
pub const MAX_CHUNK: u32 = 4 * 1024 * 1024;

/// One block of a file: where it sits and what it hashes to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// SHA-256 of the block's bytes.
    pub hash: BlockHash,
    /// Byte offset of the block in the file.
    pub offset: u64,
    /// Length of the block in bytes.
    pub size: u64,
}

impl Chunk {
    /// The block as the wire protocol names it.
    pub fn block_ref(&self) -> BlockRef {
        BlockRef {
            hash: self.hash,
            size: self.size,
        }
    }
}

/// Splits everything `reader` yields into content-defined chunks and hashes
/// each one. An empty input gives no chunks. Memory use is bounded by a few
/// `MAX_CHUNK`s, not by the input size.
///
/// Cutting and hashing run side by side: this thread cuts, another hashes
/// the blocks cut (a large file is read about twice as fast on two cores).
/// The hasher hands each block's buffer back to be filled again.
pub fn chunk_reader<R: Read>(reader: R) -> io::Result<Vec<Chunk>> {
    std::thread::scope(|scope| {
        let (cut, to_hash) = std::sync::mpsc::sync_channel::<(Vec<u8>, u64)>(HASH_QUEUE);
        let (give_back, spare) = std::sync::mpsc::channel::<Vec<u8>>();
        let hasher = scope.spawn(move || {
            to_hash
                .into_iter()
                .map(|(bytes, offset)| {
                    let chunk = block(&bytes, offset);
                    // The cutter is gone only once it is done.
                    let _ = give_back.send(bytes);
                    chunk
                })
                .collect::<Vec<_>>()
        });
        let mut cutter = Cutter::new(reader);
        let cutting = loop {
            match cutter.next_block() {
                Ok(Some((bytes, offset))) => {
                    let mut owned = spare.try_recv().unwrap_or_default();
                    owned.clear();
                    owned.extend_from_slice(bytes);
                    // The hasher is gone only if it panicked: raised below.
                    if cut.send((owned, offset)).is_err() {
                        break Ok(());
                    }
                }
                Ok(None) => break Ok(()),
                Err(error) => break Err(error),
            }
        };
        drop(cut);
        let chunks = hasher.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        cutting.map(|()| chunks)
    })
}

/// Blocks cut and waiting for the hasher.
const HASH_QUEUE: usize = 2;

/// Bytes read ahead of the cutter: a few `MAX_CHUNK`s, so that the bytes
/// not yet cut are moved to the front once per several blocks, not per block.
const WINDOW: usize = 4 * MAX_CHUNK as usize;

/// FastCDC 2020 (normalization level 1, the crate's default gear table) over
/// a window of the input. Its cut points are those of `fastcdc`'s `StreamCDC`
/// with the same sizes, which earlier versions used (a test holds them
/// equal): the blocks recorded for a file do not change. `StreamCDC` copied
/// each block out, shifted the rest of its buffer down and zeroed it again,
/// per block: a third of the time spent cutting a large file.
struct Cutter<R> {
    source: R,
    /// The bytes read and not yet cut are `window[start..]`. Its capacity
    /// is `WINDOW`, filled by reads only as far as the input goes: a file
    /// of 300 KiB touches 300 KiB of it.
    window: Vec<u8>,
    start: usize,
    eof: bool,
    /// The file offset of `window[start]`.
    offset: u64,
    masks: [u64; 4],
}

impl<R: Read> Cutter<R> {
    fn new(source: R) -> Self {
        use fastcdc::v2020::{logarithm2, MASKS};
        let bits = logarithm2(AVG_CHUNK) as usize;
        let (small, large) = (MASKS[bits + 1], MASKS[bits - 1]);
        Self {
            source,
            window: Vec::with_capacity(WINDOW),
            start: 0,
            eof: false,
            offset: 0,
            masks: [small, large, small << 1, large << 1],
        }
    }

    /// The next block and its offset, or `None` at the end of the input.
    fn next_block(&mut self) -> io::Result<Option<(&[u8], u64)>> {
        if self.window.len() - self.start < MAX_CHUNK as usize && !self.eof {
            self.window.drain(..self.start);
            self.start = 0;
            let room = (WINDOW - self.window.len()) as u64;
            // Reads until the window is full or the input ends.
            let read = (&mut self.source).take(room).read_to_end(&mut self.window)?;
            self.eof = (read as u64) < room;
        }
        if self.start == self.window.len() {
            return Ok(None);
        }
        let [small, large, small_ls, large_ls] = self.masks;
        let (_, len) = fastcdc::v2020::cut(
            &self.window[self.start..],
            MIN_CHUNK as usize,
            AVG_CHUNK as usize,
            MAX_CHUNK as usize,
            small,
            large,
            small_ls,
            large_ls,
        );
        let (block, offset) = (&self.window[self.start..self.start + len], self.offset);
        self.start += len;
        self.offset += len as u64;
        Ok(Some((block, offset)))
    }
}

/// Chunks the file at `path`. Errors keep their `io::ErrorKind` and name the path.
pub fn chunk_file(fs: &dyn Fs, path: &Path) -> io::Result<Vec<Chunk>> {
    let with_path = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let mut file = fs.open(path).map_err(with_path)?;
    // A file no larger than MIN_CHUNK is one block: read and hashed as it
    // is, without the chunker's MAX_CHUNK buffer (4 MiB, allocated and
    // zeroed per file: far more than a small file's own bytes).
    let mut head = Vec::with_capacity(SMALL_READ);
    (&mut file)
        .take(u64::from(MIN_CHUNK) + 1)
        .read_to_end(&mut head)
        .map_err(with_path)?;
    if head.len() <= MIN_CHUNK as usize {
        return Ok((!head.is_empty()).then(|| block(&head, 0)).into_iter().collect());
    }
    // The chunker reads straight into its window, in large reads.
    chunk_reader(io::Cursor::new(head).chain(file)).map_err(with_path)
}

/// What a small file's read starts with room for.
const SMALL_READ: usize = 64 * 1024;

/// The block of `bytes` found at `offset`.
fn block(bytes: &[u8], offset: u64) -> Chunk {
    Chunk {
        hash: BlockHash::from_bytes(Sha256::digest(bytes).into()),
        offset,
        size: bytes.len() as u64,
    }
}

/// A stable identity of a file's content: hex SHA-256 over the concatenated
/// block hashes, in order. Equal content gives an equal id (the ledger compares
/// these); the empty file's id is the SHA-256 of nothing.
pub fn content_id(chunks: &[Chunk]) -> String {
    let mut hasher = Sha256::new();
    for chunk in chunks {
        hasher.update(chunk.hash.as_bytes());
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Seeded xorshift64* bytes: reproducible, incompressible-looking data.
    fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed.max(1);
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        out.truncate(len);
        out
    }

    /// A reader that hands out at most a few bytes per call and is sometimes
    /// interrupted, to check that read boundaries never move cut points.
    struct Trickle<'a> {
        data: &'a [u8],
        calls: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls % 5 == 4 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.data.len()).min(1 + self.calls % 65_537);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// An endless source of zeros, so large inputs need no memory in the test either.
    struct Zeros(u64);

    impl Read for Zeros {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(usize::try_from(self.0).unwrap_or(usize::MAX));
            buf[..n].fill(0);
            self.0 -= n as u64;
            Ok(n)
        }
    }

    fn assert_well_formed(chunks: &[Chunk], data: &[u8]) {
        let mut expected_offset = 0u64;
        for (i, chunk) in chunks.iter().enumerate() {
            assert_eq!(chunk.offset, expected_offset, "chunk {i} is not contiguous");
            assert!(
                chunk.size > 0 && chunk.size <= u64::from(MAX_CHUNK),
                "chunk {i} too large: {}",
                chunk.size
            );
            if i + 1 < chunks.len() {
                assert!(
                    chunk.size >= u64::from(MIN_CHUNK),
                    "chunk {i} too small: {}",
                    chunk.size
                );
            }
            let bytes = &data[chunk.offset as usize..(chunk.offset + chunk.size) as usize];
            let hash: [u8; 32] = Sha256::digest(bytes).into();
            assert_eq!(chunk.hash, BlockHash::from_bytes(hash), "chunk {i} has a wrong hash");
            expected_offset += chunk.size;
        }
        assert_eq!(expected_offset, data.len() as u64, "chunks do not cover the input");
    }

    #[test]
    fn empty_input_gives_no_chunks() {
        let chunks = chunk_reader(io::empty()).unwrap();
        assert!(chunks.is_empty());
        assert_eq!(
            content_id(&chunks),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn small_input_is_one_chunk() {
        let chunks = chunk_reader(&b"hello"[..]).unwrap();
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].offset, 0);
        assert_eq!(chunks[0].size, 5);
        assert_eq!(
            chunks[0].hash.to_string(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(
            chunks[0].block_ref(),
            BlockRef {
                hash: chunks[0].hash,
                size: 5
            }
        );
    }

    #[test]
    fn chunks_are_deterministic_bounded_and_cover_the_input() {
        let data = pseudo_random(12 * 1024 * 1024 + 12_345, 7);
        let first = chunk_reader(&data[..]).unwrap();
        let second = chunk_reader(&data[..]).unwrap();
        assert_eq!(first, second);
        assert_eq!(content_id(&first), content_id(&second));
        assert!(
            first.len() > 3,
            "12 MiB should give several chunks, got {}",
            first.len()
        );
        assert_well_formed(&first, &data);

        // Read boundaries (tiny reads, interruptions) do not move cut points.
        let trickled = chunk_reader(Trickle { data: &data, calls: 0 }).unwrap();
        assert_eq!(first, trickled);
    }

    #[test]
    fn cut_points_are_those_of_fastcdc_stream_cdc() {
        // What earlier versions cut with: a file's recorded blocks must not
        // change under a new chunker, or every large file would look edited.
        let data = pseudo_random(40 * 1024 * 1024 + 777, 42);
        let reference: Vec<(u64, u64)> = fastcdc::v2020::StreamCDC::new(&data[..], MIN_CHUNK, AVG_CHUNK, MAX_CHUNK)
            .map(|c| c.map(|c| (c.offset, c.length as u64)))
            .collect::<Result<_, _>>()
            .unwrap();
        let ours: Vec<(u64, u64)> = chunk_reader(&data[..])
            .unwrap()
            .iter()
            .map(|c| (c.offset, c.size))
            .collect();
        assert!(reference.len() > 20, "{} blocks", reference.len());
        assert_eq!(ours, reference);
    }

    #[test]
    fn uniform_input_is_cut_at_max_size() {
        let len = 10 * u64::from(MAX_CHUNK) + 3;
        let chunks = chunk_reader(Zeros(len)).unwrap();
        assert_eq!(chunks.len(), 11);
        assert!(chunks[..10].iter().all(|c| c.size == u64::from(MAX_CHUNK)));
        assert_eq!(chunks[10].size, 3);
        // Identical blocks share one address: that is the dedup.
        assert!(chunks[..10].iter().all(|c| c.hash == chunks[0].hash));
    }

    #[test]
    fn an_insertion_in_the_middle_changes_few_chunks() {
        let original = pseudo_random(20 * 1024 * 1024, 0x5eed);
        let mut edited = original.clone();
        edited.insert(original.len() / 2, 0x42);

        let before = chunk_reader(&original[..]).unwrap();
        let after = chunk_reader(&edited[..]).unwrap();
        assert_well_formed(&before, &original);
        assert_well_formed(&after, &edited);

        let known: HashSet<BlockHash> = before.iter().map(|c| c.hash).collect();
        let new_blocks = after.iter().filter(|c| !known.contains(&c.hash)).count();
        assert!(new_blocks >= 1, "the edit must show up in some block");
        assert!(
            new_blocks <= 3,
            "{new_blocks} of {} blocks changed after a 1-byte insertion",
            after.len()
        );
        assert_ne!(content_id(&before), content_id(&after));
    }

    #[test]
    fn chunk_file_matches_chunk_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.bin");
        let data = pseudo_random(3 * 1024 * 1024 + 1, 99);
        std::fs::write(&path, &data).unwrap();
        assert_eq!(
            chunk_file(&crate::fs::DiskFs, &path).unwrap(),
            chunk_reader(&data[..]).unwrap()
        );

        // Around the size where reading the file whole gives way to the chunker.
        for size in [
            1,
            4096,
            MIN_CHUNK as usize - 1,
            MIN_CHUNK as usize,
            MIN_CHUNK as usize + 1,
        ] {
            let data = pseudo_random(size, size as u64);
            std::fs::write(&path, &data).unwrap();
            assert_eq!(
                chunk_file(&crate::fs::DiskFs, &path).unwrap(),
                chunk_reader(&data[..]).unwrap(),
                "{size} bytes"
            );
        }

        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        assert!(chunk_file(&crate::fs::DiskFs, &empty).unwrap().is_empty());

        let err = chunk_file(&crate::fs::DiskFs, &dir.path().join("missing")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn chunks_round_trip_through_json() {
        let chunks = chunk_reader(&b"some bytes"[..]).unwrap();
        let json = serde_json::to_string(&chunks).unwrap();
        assert_eq!(serde_json::from_str::<Vec<Chunk>>(&json).unwrap(), chunks);
    }
}
