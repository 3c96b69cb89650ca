//! The embedded default blob store: one file per block under `DATA_DIR/blobs`,
//! fanned out by the first two hex digits. Uploads land in `DATA_DIR/tmp` and
//! are renamed into place only once their size and SHA-256 are verified, so a
//! torn or wrong upload never becomes a block.
//!
//! A block is acknowledged only once it is durable: the temp file is written
//! (a large block around the page cache, see [`super::direct`]) and fsynced,
//! its size on disk is checked, and the SHA-256 of exactly the bytes written
//! is compared with the block's name; only then is it renamed into place and
//! the directory fsynced. Any failure removes the temp file and fails the
//! upload (507 `insufficient_storage` when the disk is full, else 500), so a
//! disk filling up mid-upload never leaves a short file under a block's hash.
//! A write that failed for lack of space is remembered for `/ready` until a
//! write probe of the same size succeeds (see [`BlobStore::ready`]).
//!
//! `drive-server --check` reads every block back; one whose bytes do not hash
//! to its name is moved to `DATA_DIR/blobs/quarantine/` (see
//! [`LocalBlobStore::quarantine`]) and its row forgotten, so that the next
//! upload that needs it asks the client for its bytes again.
//!
//! Photo objects live apart, under `DATA_DIR/photos`, fanned out the same way
//! and written through `DATA_DIR/tmp` too.

use std::{
    io::SeekFrom,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use async_trait::async_trait;
use axum::body::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use drive_wire::{BlockHash, PresignedBlock};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{
    blobs::{BlobReader, BlobStore, PhotoKey, PresignedUrl, StorageError, StoredBlock},
    direct::{self, Buffers},
    health::{io_out_of_space, probe_write, OutOfSpace},
    presign::{Method, UploadGrant, UrlSigner},
};

/// An upload body as it arrives.
pub type ByteStream = std::pin::Pin<Box<dyn futures::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Send>>;

pub struct LocalBlobStore {
    blobs: PathBuf,
    photos: PathBuf,
    tmp: PathBuf,
    public_url: String,
    signer: UrlSigner,
    /// Set when a write failed for lack of space (with its size).
    out_of_space: OutOfSpace,
    /// For writes around the page cache.
    buffers: Arc<Buffers>,
}

/// Where `--check` moves blocks whose bytes do not match their hash (under
/// `DATA_DIR/blobs`; its name is no block's fan-out dir, so listing skips it).
pub const QUARANTINE_DIR: &str = "quarantine";

/// Removes a temporary upload file unless it was renamed into place.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl LocalBlobStore {
    pub async fn open(data_dir: &Path, public_url: String, signer: UrlSigner) -> Result<Self, StorageError> {
        let blobs = data_dir.join("blobs");
        let photos = data_dir.join("photos");
        let tmp = data_dir.join("tmp");
        for dir in [&blobs, &photos, &tmp] {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| StorageError::io(format!("creating {}", dir.display()), e))?;
        }
        // Leftovers of uploads cut off by a crash are never blocks: drop them.
        let mut entries = tokio::fs::read_dir(&tmp)
            .await
            .map_err(|e| StorageError::io("listing the temp dir", e))?;
        while let Ok(Some(entry)) = entries.next_entry().await {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
        Ok(Self {
            blobs,
            photos,
            tmp,
            public_url: public_url.trim_end_matches('/').to_owned(),
            signer,
            out_of_space: OutOfSpace::default(),
            buffers: Arc::default(),
        })
    }

    pub fn signer(&self) -> &UrlSigner {
        &self.signer
    }

    /// A whole block of `size` bytes read around the page cache, or `None`
    /// if it is to be read plainly (see [`direct::read`]).
    pub async fn read_direct(&self, hash: BlockHash, size: u64) -> Result<Option<Bytes>, StorageError> {
        // A small block is not worth a trip to the blocking pool.
        if !direct::is_direct(size) {
            return Ok(None);
        }
        let path = self.path_of(hash);
        tokio::task::spawn_blocking(move || direct::read(&path, size))
            .await
            .map_err(|e| StorageError::io("reading a block", std::io::Error::other(e)))?
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => StorageError::NotFound(hash),
                _ => StorageError::io(format!("reading block {hash}"), e),
            })
    }

    fn path_of(&self, hash: BlockHash) -> PathBuf {
        let hex = hash.to_string();
        self.blobs.join(&hex[..2]).join(hex)
    }

    fn photo_path(&self, key: PhotoKey) -> PathBuf {
        let hex = key.to_string();
        self.photos.join(&hex[..2]).join(hex)
    }

    fn url(&self, method: Method, hash: BlockHash, size: u64, ttl: Duration) -> PresignedBlock {
        let expires_at = Utc::now() + ttl;
        let expires = expires_at.timestamp();
        let sig = self.signer.sign(method, hash, None, expires);
        self.block_url(hash, size, format!("expires={expires}&sig={sig}"), expires, expires_at)
    }

    /// A PUT URL bound to the upload `grant` (see [`UrlSigner::sign_put`]).
    fn put_url(&self, hash: BlockHash, size: u64, grant: &UploadGrant, ttl: Duration) -> PresignedBlock {
        let expires_at = Utc::now() + ttl;
        let expires = expires_at.timestamp();
        let sig = self.signer.sign_put(hash, size, grant, expires);
        let query = format!(
            "size={size}&user={}&upload={}&expires={expires}&sig={sig}",
            grant.user_id, grant.token
        );
        self.block_url(hash, size, query, expires, expires_at)
    }

    fn block_url(
        &self,
        hash: BlockHash,
        size: u64,
        query: String,
        expires: i64,
        expires_at: DateTime<Utc>,
    ) -> PresignedBlock {
        PresignedBlock {
            hash,
            size,
            url: format!("{}/blobs/{hash}?{query}", self.public_url),
            expires_at: Utc.timestamp_opt(expires, 0).single().unwrap_or(expires_at),
            headers: Default::default(),
            data: None,
        }
    }

    /// Streams an upload into the store. Returns `true` if the block is new,
    /// `false` if it was already stored (the bytes are still verified).
    pub async fn put(&self, hash: BlockHash, size: u64, body: ByteStream) -> Result<bool, StorageError> {
        let result = self.write_block(hash, size, body).await;
        self.note_write(&result, size);
        result
    }

    /// Remembers a write that failed for lack of space, or forgets it once
    /// one succeeds.
    fn note_write<T>(&self, result: &Result<T, StorageError>, size: u64) {
        match result {
            Ok(_) => self.out_of_space.clear(),
            Err(StorageError::Io { source, .. }) if io_out_of_space(source) => self.out_of_space.mark(size),
            Err(_) => {}
        }
    }

    /// Receives and verifies a block in memory (its signed size is at most
    /// a block's), then writes it in one go on a blocking thread: a thread
    /// hand-off per file operation was most of what a small block cost. The
    /// pieces are kept as they arrived, not copied into one buffer.
    async fn write_block(&self, hash: BlockHash, size: u64, mut body: ByteStream) -> Result<bool, StorageError> {
        let mut pieces = Vec::new();
        let mut received = 0u64;
        let mut hasher = Sha256::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StorageError::io("receiving the upload", std::io::Error::other(e)))?;
            // Counted as it arrives, so bytes of an upload cut off midway count too.
            metrics::counter!("drive_block_bytes_received_total").increment(chunk.len() as u64);
            received += chunk.len() as u64;
            if received > size {
                return Err(StorageError::SizeMismatch);
            }
            hasher.update(&chunk);
            pieces.push(chunk);
        }
        if received != size {
            return Err(StorageError::SizeMismatch);
        }
        // The SHA-256 of exactly the bytes written below.
        if hasher.finalize().as_slice() != hash.as_bytes() {
            return Err(StorageError::HashMismatch);
        }
        let temp_path = self.tmp.join(uuid::Uuid::new_v4().to_string());
        let (final_path, blobs, buffers) = (self.path_of(hash), self.blobs.clone(), self.buffers.clone());
        tokio::task::spawn_blocking(move || place_block(hash, &pieces, &temp_path, &buffers, &final_path, &blobs))
            .await
            .map_err(|e| StorageError::io("writing a block", std::io::Error::other(e)))?
    }

    async fn write_photo(&self, key: PhotoKey, bytes: Vec<u8>) -> Result<(), StorageError> {
        let temp_path = self.tmp.join(uuid::Uuid::new_v4().to_string());
        let (final_path, photos, buffers) = (self.photo_path(key), self.photos.clone(), self.buffers.clone());
        tokio::task::spawn_blocking(move || {
            let (temp, _) = write_temp(&temp_path, &buffers, &[bytes])?;
            move_into_place(temp, &final_path, &photos)
        })
        .await
        .map_err(|e| StorageError::io("writing a photo", std::io::Error::other(e)))?
    }

    /// Moves a block aside to `DATA_DIR/blobs/quarantine/HASH` (replacing an
    /// earlier one there), so that it is no longer served or listed as the
    /// block; returns where it went.
    async fn quarantine_file(&self, hash: BlockHash) -> Result<PathBuf, StorageError> {
        let dir = self.blobs.join(QUARANTINE_DIR);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| StorageError::io("creating the quarantine dir", e))?;
        let to = dir.join(hash.to_string());
        let from = self.path_of(hash);
        tokio::fs::rename(&from, &to)
            .await
            .map_err(|e| StorageError::io(format!("moving block {hash} to quarantine"), e))?;
        sync_dir(&dir).await?;
        if let Some(parent) = from.parent() {
            sync_dir(parent).await?;
        }
        Ok(to)
    }

    /// Uploads cut off mid-way leave temp files until the next start; the
    /// consistency check reports them when the server is stopped.
    pub async fn temp_file_count(&self) -> Result<usize, StorageError> {
        let mut entries = tokio::fs::read_dir(&self.tmp)
            .await
            .map_err(|e| StorageError::io("listing the temp dir", e))?;
        let mut count = 0;
        while let Ok(Some(_)) = entries.next_entry().await {
            count += 1;
        }
        Ok(count)
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn presign_put(
        &self,
        hash: BlockHash,
        size: u64,
        grant: &UploadGrant,
        ttl: Duration,
    ) -> Result<PresignedBlock, StorageError> {
        Ok(self.put_url(hash, size, grant, ttl))
    }

    /// Never: the PUT endpoint (`blobs.rs`) records the proof itself.
    async fn upload_proven(&self, _: BlockHash, _: u64, _: &UploadGrant) -> Result<bool, StorageError> {
        Ok(false)
    }

    async fn presign_get(&self, hash: BlockHash, size: u64, ttl: Duration) -> Result<PresignedBlock, StorageError> {
        Ok(self.url(Method::Get, hash, size, ttl))
    }

    async fn stored_size(&self, hash: BlockHash) -> Result<Option<u64>, StorageError> {
        match tokio::fs::metadata(self.path_of(hash)).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StorageError::io(format!("reading block {hash}"), e)),
        }
    }

    async fn read_range(&self, hash: BlockHash, offset: u64, len: u64) -> Result<BlobReader, StorageError> {
        let mut file = match tokio::fs::File::open(self.path_of(hash)).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StorageError::NotFound(hash)),
            Err(e) => return Err(StorageError::io(format!("opening block {hash}"), e)),
        };
        file.seek(SeekFrom::Start(offset))
            .await
            .map_err(|e| StorageError::io(format!("seeking in block {hash}"), e))?;
        Ok(Box::pin(file.take(len)))
    }

    async fn list(&self) -> Result<Vec<StoredBlock>, StorageError> {
        let mut found = Vec::new();
        let mut fans = tokio::fs::read_dir(&self.blobs)
            .await
            .map_err(|e| StorageError::io("listing blobs", e))?;
        while let Some(fan) = fans
            .next_entry()
            .await
            .map_err(|e| StorageError::io("listing blobs", e))?
        {
            if fan.file_name() == QUARANTINE_DIR {
                continue;
            }
            let mut files = tokio::fs::read_dir(fan.path())
                .await
                .map_err(|e| StorageError::io("listing blobs", e))?;
            while let Some(file) = files
                .next_entry()
                .await
                .map_err(|e| StorageError::io("listing blobs", e))?
            {
                let Some(hash) = file.file_name().to_str().and_then(|n| n.parse().ok()) else {
                    continue;
                };
                let meta = file
                    .metadata()
                    .await
                    .map_err(|e| StorageError::io("listing blobs", e))?;
                let modified = meta
                    .modified()
                    .map_err(|e| StorageError::io("reading a block's mtime", e))?;
                found.push(StoredBlock {
                    hash,
                    size: meta.len(),
                    modified: modified.into(),
                });
            }
        }
        Ok(found)
    }

    async fn delete(&self, hash: BlockHash) -> Result<(), StorageError> {
        match tokio::fs::remove_file(self.path_of(hash)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StorageError::io(format!("deleting block {hash}"), e)),
        }
    }

    async fn put_photo(&self, key: PhotoKey, bytes: Vec<u8>) -> Result<(), StorageError> {
        let size = bytes.len() as u64;
        let result = self.write_photo(key, bytes).await;
        self.note_write(&result, size);
        result
    }

    async fn read_photo(&self, key: PhotoKey) -> Result<Vec<u8>, StorageError> {
        match tokio::fs::read(self.photo_path(key)).await {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StorageError::NotFound(key)),
            Err(e) => Err(StorageError::io(format!("reading photo {key}"), e)),
        }
    }

    async fn delete_photo(&self, key: PhotoKey) -> Result<(), StorageError> {
        match tokio::fs::remove_file(self.photo_path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StorageError::io(format!("deleting photo {key}"), e)),
        }
    }

    async fn list_photos(&self) -> Result<Vec<PhotoKey>, StorageError> {
        let mut found = Vec::new();
        let mut fans = tokio::fs::read_dir(&self.photos)
            .await
            .map_err(|e| StorageError::io("listing photos", e))?;
        while let Some(fan) = fans
            .next_entry()
            .await
            .map_err(|e| StorageError::io("listing photos", e))?
        {
            let mut files = tokio::fs::read_dir(fan.path())
                .await
                .map_err(|e| StorageError::io("listing photos", e))?;
            while let Some(file) = files
                .next_entry()
                .await
                .map_err(|e| StorageError::io("listing photos", e))?
            {
                if let Some(key) = file.file_name().to_str().and_then(|n| n.parse().ok()) {
                    found.push(key);
                }
            }
        }
        Ok(found)
    }

    /// The type is not part of the URL: the photo route finds it from the bytes.
    async fn presign_photo_get(
        &self,
        key: PhotoKey,
        _content_type: &str,
        ttl: Duration,
    ) -> Result<PresignedUrl, StorageError> {
        let expires_at = Utc::now() + ttl;
        let expires = expires_at.timestamp();
        let sig = self.signer.sign(Method::GetPhoto, key, None, expires);
        Ok(PresignedUrl {
            url: format!("{}/photos/{key}?expires={expires}&sig={sig}", self.public_url),
            expires_at: Utc.timestamp_opt(expires, 0).single().unwrap_or(expires_at),
        })
    }

    async fn quarantine(&self, hash: BlockHash) -> Result<String, StorageError> {
        Ok(self.quarantine_file(hash).await?.display().to_string())
    }

    /// A write probe in the temp dir: one byte normally; after a write failed
    /// for lack of space, as many bytes as it needed, fsynced (the mark is
    /// cleared once that succeeds).
    async fn ready(&self) -> Result<(), StorageError> {
        match self.out_of_space.needed() {
            None => probe_write(&self.tmp, 1, false)
                .await
                .map_err(|e| StorageError::io("writing to the blob store", e)),
            Some(needed) => {
                probe_write(&self.tmp, needed.max(64 * 1024), true).await.map_err(|e| {
                    StorageError::io(
                        format!("a write failed for lack of space, and writing {needed} bytes still fails"),
                        e,
                    )
                })?;
                self.out_of_space.clear();
                Ok(())
            }
        }
    }
}

/// Makes a rename or a new entry in `dir` durable.
/// Writes a verified block durably under its name (see [`write_temp`] and
/// [`move_into_place`]). A block already in place is kept, unless it is
/// short or long (a torn file from before: this one replaces it); that is
/// looked at only once the bytes are written like a new block's, so that
/// the uploader learns from neither the answer nor much from its time that
/// someone else stored the same bytes (see `uploads.rs`). Returns whether
/// it was placed.
fn place_block(
    hash: BlockHash,
    pieces: &[impl AsRef<[u8]>],
    temp_path: &Path,
    buffers: &Buffers,
    final_path: &Path,
    blobs: &Path,
) -> Result<bool, StorageError> {
    let (temp, size) = write_temp(temp_path, buffers, pieces)?;
    if let Ok(meta) = std::fs::metadata(final_path) {
        if meta.len() == size {
            return Ok(false);
        }
        tracing::warn!(%hash, stored = meta.len(), size, "replacing a stored block of the wrong size");
    }
    move_into_place(temp, final_path, blobs)?;
    Ok(true)
}

/// A temp file at `temp_path` holding `pieces` one after the other, and its
/// size: written (around the page cache, see [`direct`]), fsynced and
/// checked for its size (removed again if anything fails, or if it is
/// dropped).
fn write_temp(
    temp_path: &Path,
    buffers: &Buffers,
    pieces: &[impl AsRef<[u8]>],
) -> Result<(TempFile, u64), StorageError> {
    let guard = TempFile(Some(temp_path.to_owned()));
    let file = direct::create(temp_path, pieces, buffers).map_err(|e| StorageError::io("writing a temp file", e))?;
    file.sync_all()
        .map_err(|e| StorageError::io("syncing a temp file", e))?;
    let on_disk = file
        .metadata()
        .map_err(|e| StorageError::io("reading a temp file's size", e))?
        .len();
    let size = pieces.iter().map(|piece| piece.as_ref().len() as u64).sum();
    if on_disk != size {
        return Err(StorageError::io(
            "checking a temp file",
            std::io::Error::other(format!("{on_disk} bytes on disk, {size} written")),
        ));
    }
    Ok((guard, size))
}

/// Renames a written temp file to `final_path` under `root` and fsyncs the
/// directories that changed (a new fan-out directory, and `root`, too).
fn move_into_place(mut temp: TempFile, final_path: &Path, root: &Path) -> Result<(), StorageError> {
    let Some(temp_path) = temp.0.as_deref() else {
        return Err(StorageError::io(
            "moving a file into place",
            std::io::Error::other("no temp file"),
        ));
    };
    let parent = final_path.parent().unwrap_or(root);
    if !parent.exists() {
        std::fs::create_dir_all(parent).map_err(|e| StorageError::io("creating a store dir", e))?;
        sync_dir_now(root)?;
    }
    std::fs::rename(temp_path, final_path).map_err(|e| StorageError::io("moving a file into place", e))?;
    // In place: nothing left to remove.
    temp.0 = None;
    sync_dir_now(parent)
}

fn sync_dir_now(dir: &Path) -> Result<(), StorageError> {
    std::fs::File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| StorageError::io(format!("syncing {}", dir.display()), e))
}

async fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    let owned = dir.to_owned();
    tokio::task::spawn_blocking(move || sync_dir_now(&owned))
        .await
        .map_err(|e| StorageError::io("syncing a directory", std::io::Error::other(e)))?
}
