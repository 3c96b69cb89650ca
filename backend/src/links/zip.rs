//! A linked folder as a zip, written as it is read: entries stored (not
//! compressed), one block at a time, through a pipe into the response body.
//!
//! Entry names are made safe for the unzip of Windows, macOS and Linux alike:
//! the server's name rule keeps `\`, `:`, `CON` or `a.` as given, which an
//! extractor could read as a path, a drive or a device, or silently change.
//! Each name is made safe by [`safe_name`], and names that meet in a folder
//! once made safe (or differ only in case, which Windows and macOS fold) are
//! told apart by [`unique_name`] with ` (2)`, ` (3)`...

use std::collections::HashSet;

use chrono::{Datelike, Timelike};
use drive_wire::{NodeId, NodeKind};
use futures::StreamExt;

use axum::{
    body::Body,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

use super::live_children;
use crate::{
    download::{block_stream, content_disposition, user_content_headers},
    error::ApiResult,
    state::AppState,
    storage::metadata::to_datetime,
    tree::{revisions::revision_blocks, NodeRow},
};

pub(crate) enum ZipItem {
    Folder(String),
    File {
        path: String,
        node_id: i64,
        revision: i64,
        modified: i64,
    },
}

/// Longest name on Linux (bytes) and Windows (UTF-16 units, never more than bytes).
const MAX_NAME_BYTES: usize = 255;

/// Names Windows gives to devices, whatever the extension (`CON.txt` too).
const DEVICES: &[&str] = &[
    "CON",
    "PRN",
    "AUX",
    "NUL",
    "CONIN$",
    "CONOUT$",
    "COM1",
    "COM2",
    "COM3",
    "COM4",
    "COM5",
    "COM6",
    "COM7",
    "COM8",
    "COM9",
    "COM\u{b9}",
    "COM\u{b2}",
    "COM\u{b3}",
    "LPT1",
    "LPT2",
    "LPT3",
    "LPT4",
    "LPT5",
    "LPT6",
    "LPT7",
    "LPT8",
    "LPT9",
    "LPT\u{b9}",
    "LPT\u{b2}",
    "LPT\u{b3}",
];

/// `name` as one path component that every OS's unzip writes as it is: no
/// separator (`/`, `\`), drive (`C:`), control character or other character
/// Windows refuses (`<>:"|?*`; each becomes `_`), no trailing dot or space
/// (Windows drops them), not `.`, `..` or empty (`_`), no device name (`_`
/// before it), at most 255 bytes.
pub(super) fn safe_name(name: &str) -> String {
    let mut safe: String = name
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | '<' | '>' | ':' | '"' | '|' | '?' | '*') {
                '_'
            } else {
                c
            }
        })
        .collect();
    safe.truncate(safe.trim_end_matches(['.', ' ']).len());
    if safe.is_empty() {
        return "_".to_owned();
    }
    let stem = safe.split('.').next().unwrap_or_default().trim_end_matches(' ');
    if DEVICES.iter().any(|device| device.eq_ignore_ascii_case(stem)) {
        safe.insert(0, '_');
    }
    truncate(&mut safe, MAX_NAME_BYTES);
    safe
}

/// Cuts `s` to at most `max` bytes at a character boundary.
fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// A safe `name` not yet in `taken` (lowercased names of a folder's entries):
/// `name`, else `stem (2).ext`, `stem (3).ext`... It is added to `taken`.
pub(super) fn unique_name(name: String, taken: &mut HashSet<String>) -> String {
    if taken.insert(name.to_lowercase()) {
        return name;
    }
    // A folder name has no extension; a file's is after its last dot, if
    // that dot does not start the name (`.bashrc` is all stem).
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name.as_str(), ""),
    };
    for n in 2u64.. {
        let suffix = format!(" ({n}){ext}");
        let mut candidate = stem.to_owned();
        truncate(&mut candidate, MAX_NAME_BYTES.saturating_sub(suffix.len()));
        // Cutting the stem may leave a trailing dot or space: drop them too.
        candidate.truncate(candidate.trim_end_matches(['.', ' ']).len());
        candidate.push_str(&suffix);
        if taken.insert(candidate.to_lowercase()) {
            return candidate;
        }
    }
    unreachable!("some number is free")
}

/// Every live folder and file under `folder`, with paths relative to it,
/// made of safe names (unique in each folder, case aside).
pub(crate) async fn collect_tree(state: &AppState, folder: &NodeRow) -> ApiResult<Vec<ZipItem>> {
    collect_selected(state, folder, None).await
}

/// [`collect_tree`] with, when `only` is given, only those children of
/// `folder` (and everything under them): a selection.
pub(crate) async fn collect_selected(
    state: &AppState,
    folder: &NodeRow,
    only: Option<&HashSet<NodeId>>,
) -> ApiResult<Vec<ZipItem>> {
    let mut items = Vec::new();
    let mut pending = vec![(folder.id, String::new())];
    while let Some((id, prefix)) = pending.pop() {
        let mut taken = HashSet::new();
        for child in live_children(state, id).await? {
            if id == folder.id && only.is_some_and(|only| !only.contains(&child.id)) {
                continue;
            }
            let name = unique_name(safe_name(&child.name), &mut taken);
            let path = format!("{prefix}{name}");
            if child.kind() == NodeKind::Folder {
                items.push(ZipItem::Folder(format!("{path}/")));
                pending.push((child.id, format!("{path}/")));
            } else if let Some(revision) = child.revision_id {
                items.push(ZipItem::File {
                    path,
                    node_id: child.id,
                    revision,
                    modified: child.modified,
                });
            }
        }
    }
    Ok(items)
}

fn zip_date(ms: i64) -> async_zip::ZipDateTime {
    let t = to_datetime(ms);
    async_zip::ZipDateTimeBuilder::new()
        .year(t.year().max(1980))
        .month(t.month())
        .day(t.day())
        .hour(t.hour())
        .minute(t.minute())
        .second(t.second())
        .build()
}

/// The answer that streams `items` (of [`collect_tree`] of `folder`) as
/// `<folder>.zip`, made as it is sent. A failure while it is made breaks the
/// body instead of ending it as if the zip were whole.
pub(crate) fn zip_response(state: &AppState, folder: &NodeRow, items: Vec<ZipItem>) -> Response {
    let (writer, reader) = tokio::io::duplex(256 * 1024);
    let task = tokio::spawn(write_zip(state.clone(), items, writer));
    let outcome = futures::stream::once(async move {
        let err = match task.await {
            Ok(Ok(())) => return None,
            Ok(Err(err)) => err,
            Err(err) => err.into(),
        };
        tracing::warn!(error = ?err, "writing a zip failed");
        Some(Err(std::io::Error::other("the zip could not be completed")))
    })
    .filter_map(futures::future::ready);
    let body = tokio_util::io::ReaderStream::new(reader).chain(outcome);
    (StatusCode::OK, zip_headers(folder), Body::from_stream(body)).into_response()
}

/// The headers of the zip of `folder`: its type, `<folder>.zip` as an
/// attachment, and those of every user's bytes.
pub(crate) fn zip_headers(folder: &NodeRow) -> HeaderMap {
    let name = if folder.name.is_empty() { "drive" } else { &folder.name };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    headers.insert(header::CONTENT_DISPOSITION, content_disposition(&format!("{name}.zip")));
    user_content_headers(&mut headers);
    headers
}

/// Writes the zip (entries stored, not compressed) into `out`, one block at a time.
async fn write_zip(state: AppState, items: Vec<ZipItem>, out: tokio::io::DuplexStream) -> anyhow::Result<()> {
    use async_zip::{Compression, ZipEntryBuilder};
    use futures::AsyncWriteExt as _;

    let mut zip = async_zip::tokio::write::ZipFileWriter::with_tokio(out);
    for item in items {
        match item {
            ZipItem::Folder(path) => {
                zip.write_entry_whole(ZipEntryBuilder::new(path.into(), Compression::Stored), &[])
                    .await?;
            }
            ZipItem::File {
                path,
                node_id,
                revision,
                modified,
            } => {
                let blocks = revision_blocks(state.db.reader(), node_id, revision).await?;
                let size = blocks.iter().map(|(_, size)| size).sum();
                let entry =
                    ZipEntryBuilder::new(path.into(), Compression::Stored).last_modification_date(zip_date(modified));
                let mut writer = zip.write_entry_stream(entry).await?;
                let mut bytes = std::pin::pin!(block_stream(&state, &blocks, 0, size));
                while let Some(chunk) = bytes.next().await {
                    writer.write_all(&chunk?).await?;
                }
                writer.close().await?;
            }
        }
    }
    zip.close().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_safe_for_every_os() {
        for (name, safe) in [
            ("a.txt", "a.txt"),
            ("..", "_"),
            (".", "_"),
            ("...", "_"),
            ("..hidden", "..hidden"),
            (".bashrc", ".bashrc"),
            ("a\\b", "a_b"),
            ("..\\..\\x", ".._.._x"),
            ("C:x", "C_x"),
            ("C:\\Windows", "C__Windows"),
            ("x:y.txt", "x_y.txt"),
            ("/etc", "_etc"),
            ("a.", "a"),
            ("a. . ", "a"),
            ("b ", "b"),
            (" b", " b"),
            ("tab\there\u{7f}\u{85}", "tab_here__"),
            ("q<>:\"|?*", "q_______"),
            ("CON", "_CON"),
            ("con.txt", "_con.txt"),
            ("Nul .tar.gz", "_Nul .tar.gz"),
            ("LPT9", "_LPT9"),
            ("COM\u{b9}", "_COM\u{b9}"),
            ("COM0", "COM0"),
            ("CONSOLE", "CONSOLE"),
            ("\u{e9}t\u{e9} \u{1f600}", "\u{e9}t\u{e9} \u{1f600}"),
        ] {
            assert_eq!(safe_name(name), safe, "{name:?}");
        }
        let long = "\u{e9}".repeat(200);
        let safe = safe_name(&long);
        assert!(safe.len() <= 255 && long.starts_with(&safe));
    }

    #[test]
    fn names_that_meet_are_told_apart() {
        let mut taken = HashSet::new();
        let mut add = |name: &str| unique_name(safe_name(name), &mut taken);
        assert_eq!(add("A.txt"), "A.txt");
        assert_eq!(add("a.txt"), "a (2).txt");
        assert_eq!(add("a (2).TXT"), "a (2) (2).TXT");
        assert_eq!(add("a:b"), "a_b");
        assert_eq!(add("a\\b"), "a_b (2)");
        assert_eq!(add("A|B"), "A_B (3)");
        assert_eq!(add(".x"), ".x");
        assert_eq!(add(".X"), ".X (2)");
        let long = format!("{}.txt", "y".repeat(251));
        assert_eq!(add(&long), long);
        let twin = add(&long.to_uppercase());
        assert_eq!(twin.len(), 255);
        assert!(twin.ends_with(" (2).TXT"), "{twin}");
    }
}
