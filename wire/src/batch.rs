//! Batches of uploads: many small files in one request per step (see
//! docs/API.md, "Batches"). Each file of a batch stands or falls on its own:
//! the answer lists one outcome per file, in request order, each with the
//! status and error the single-file route would have answered. Folders are
//! created in batches too (`/folders/batch`).

use serde::{Deserialize, Serialize};

use crate::{CommitRequest, CreateFolderRequest, ErrorDetail, Manifest, Node, NodeId, RevisionId, UploadPlan};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Files per batch request at most; a larger batch is refused (400).
pub const MAX_BATCH_FILES: usize = 1000;
/// Blocks named by all the files of a batch at most; a larger batch is
/// refused (400).
pub const MAX_BATCH_BLOCKS: usize = 20_000;

/// Files to prepare (`/uploads/batch`) or commit (`/commits/batch`): each is
/// the body the single-file route takes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UploadBatch {
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 1000))]
    pub files: Vec<CommitRequest>,
}

/// One file's answer to step 1 in a batch: its plan, or its error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PlanOutcome {
    /// The status `/uploads` would have answered for this file alone.
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<UploadPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// One file's answer to step 3 in a batch: the committed node, or its error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CommitOutcome {
    /// The status `/commits` would have answered for this file alone.
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Node>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// The answer to `/uploads/batch`: one outcome per file, in request order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PlanBatch {
    pub files: Vec<PlanOutcome>,
}

/// The answer to `/commits/batch`: one outcome per file, in request order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CommitBatch {
    pub files: Vec<CommitOutcome>,
}

/// Folders to create (`/folders/batch`), in order: each is the body
/// `/folders` takes, so a folder's parent is an existing folder (a client
/// sends a tree one level per batch).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FolderBatch {
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 1000))]
    pub folders: Vec<CreateFolderRequest>,
}

/// The answer to `/folders/batch`: one outcome per folder, in request order,
/// each with the status and error `/folders` would have answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FolderBatchOutcomes {
    pub folders: Vec<CommitOutcome>,
}

/// Manifests to send at once (`/manifests/batch`), for a client about to
/// download many small files: each names what `/nodes/{id}/manifest` takes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ManifestBatch {
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 1000))]
    pub files: Vec<ManifestRequest>,
}

/// A file and one of its revisions (the current one when omitted).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ManifestRequest {
    pub id: NodeId,
    #[serde(default)]
    pub revision: Option<RevisionId>,
}

/// One file's manifest in a batch, or the error `/nodes/{id}/manifest`
/// would have answered for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ManifestOutcome {
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Manifest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// The answer to `/manifests/batch`: one outcome per file, in request order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ManifestOutcomes {
    pub files: Vec<ManifestOutcome>,
}
