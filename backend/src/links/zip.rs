//! A linked folder as a zip, written as it is read: entries stored (not
//! compressed), one block at a time, through a pipe into the response body.

use chrono::{Datelike, Timelike};
use drive_wire::NodeKind;
use futures::StreamExt;

use super::live_children;
use crate::{
    download::block_stream,
    error::ApiResult,
    state::AppState,
    storage::metadata::to_datetime,
    tree::{revisions::revision_blocks, NodeRow},
};

pub(super) enum ZipItem {
    Folder(String),
    File {
        path: String,
        node_id: i64,
        revision: i64,
        modified: i64,
    },
}

/// Every live folder and file under `folder`, with paths relative to it.
pub(super) async fn collect_tree(state: &AppState, folder: &NodeRow) -> ApiResult<Vec<ZipItem>> {
    let mut items = Vec::new();
    let mut pending = vec![(folder.id, String::new())];
    while let Some((id, prefix)) = pending.pop() {
        for child in live_children(state, id).await? {
            let path = format!("{prefix}{}", child.name);
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

/// Writes the zip (entries stored, not compressed) into `out`, one block at a time.
pub(super) async fn write_zip(
    state: AppState,
    items: Vec<ZipItem>,
    out: tokio::io::DuplexStream,
) -> anyhow::Result<()> {
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
