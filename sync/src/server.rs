//! What the engine asks of the server: the calls a sync needs, and nothing
//! else. [`Remote`] answers them over HTTP; the simulation answers them
//! from a model in memory, with faults.

use std::{fmt, sync::Arc, time::Duration};

use drive_wire::{ChangesPage, CommitRequest, Manifest, Node, NodeId, PresignedBlock, RevisionId, UploadPlan, User};

use crate::remote::{Remote, RemoteError};

type Result<T> = std::result::Result<T, RemoteError>;

#[async_trait::async_trait]
pub trait Server: Send + Sync + fmt::Debug {
    /// The server's address, as the folder's link records it.
    fn address(&self) -> String;
    async fn me(&self) -> Result<User>;
    /// Changes after `since`; with none yet, waits up to `wait` for one.
    async fn changes(&self, since: i64, wait: Duration) -> Result<ChangesPage>;
    async fn create_folder(&self, parent_id: NodeId, name: &str) -> Result<Node>;
    /// Renames and/or moves; `None` leaves that part as it is.
    async fn update_node(&self, id: NodeId, name: Option<&str>, parent_id: Option<NodeId>) -> Result<Node>;
    /// Sends a node (with its subtree) to the trash.
    async fn trash(&self, id: NodeId) -> Result<()>;
    /// The blocks of a revision (the current one when `None`).
    async fn manifest(&self, id: NodeId, revision: Option<RevisionId>) -> Result<Manifest>;
    /// Many files' manifests: each file's, or its own error. An error of
    /// the whole call means none came.
    async fn manifests(&self, files: &[(NodeId, Option<RevisionId>)]) -> Result<Vec<Result<Manifest>>> {
        let mut manifests = Vec::with_capacity(files.len());
        for &(id, revision) in files {
            manifests.push(self.manifest(id, revision).await);
        }
        Ok(manifests)
    }
    /// Which blocks of an upload the server still lacks.
    async fn prepare_upload(&self, request: &CommitRequest) -> Result<UploadPlan>;
    async fn commit(&self, request: &CommitRequest) -> Result<Node>;
    /// Step 1 for many files: each file's plan, or its own error. An error
    /// of the whole call means none was planned.
    async fn prepare_uploads(&self, files: &[CommitRequest]) -> Result<Vec<Result<UploadPlan>>> {
        let mut plans = Vec::with_capacity(files.len());
        for file in files {
            plans.push(self.prepare_upload(file).await);
        }
        Ok(plans)
    }
    /// Step 3 for many files: each file's node, or its own error. An error
    /// of the whole call may come after some (a lost answer) or none of them
    /// were committed, as with [`Server::commit`].
    async fn commit_many(&self, files: &[CommitRequest]) -> Result<Vec<Result<Node>>> {
        let mut nodes = Vec::with_capacity(files.len());
        for file in files {
            nodes.push(self.commit(file).await);
        }
        Ok(nodes)
    }
    /// Creates folders in existing folders: each folder's node, or its own
    /// error. An error of the whole call may come after some or none of them
    /// were created, as with [`Server::create_folder`].
    async fn create_folders(&self, folders: &[(NodeId, String)]) -> Result<Vec<Result<Node>>> {
        let mut nodes = Vec::with_capacity(folders.len());
        for (parent_id, name) in folders {
            nodes.push(self.create_folder(*parent_id, name).await);
        }
        Ok(nodes)
    }
    async fn put_block(&self, block: &PresignedBlock, bytes: Vec<u8>) -> Result<()>;
    async fn get_block(&self, block: &PresignedBlock) -> Result<Vec<u8>>;
}

/// The server the engine talks to.
pub type SharedServer = Arc<dyn Server>;

#[async_trait::async_trait]
impl Server for Remote {
    fn address(&self) -> String {
        self.server().to_owned()
    }

    async fn me(&self) -> Result<User> {
        Remote::me(self).await
    }

    async fn changes(&self, since: i64, wait: Duration) -> Result<ChangesPage> {
        Remote::changes(self, since, wait).await
    }

    async fn create_folder(&self, parent_id: NodeId, name: &str) -> Result<Node> {
        Remote::create_folder(self, parent_id, name).await
    }

    async fn update_node(&self, id: NodeId, name: Option<&str>, parent_id: Option<NodeId>) -> Result<Node> {
        Remote::update_node(self, id, name, parent_id).await
    }

    async fn trash(&self, id: NodeId) -> Result<()> {
        Remote::trash(self, id).await
    }

    async fn manifest(&self, id: NodeId, revision: Option<RevisionId>) -> Result<Manifest> {
        Remote::manifest(self, id, revision).await
    }

    async fn manifests(&self, files: &[(NodeId, Option<RevisionId>)]) -> Result<Vec<Result<Manifest>>> {
        Remote::manifests(self, files).await
    }

    async fn prepare_upload(&self, request: &CommitRequest) -> Result<UploadPlan> {
        Remote::prepare_upload(self, request).await
    }

    async fn commit(&self, request: &CommitRequest) -> Result<Node> {
        Remote::commit(self, request).await
    }

    async fn prepare_uploads(&self, files: &[CommitRequest]) -> Result<Vec<Result<UploadPlan>>> {
        Remote::prepare_uploads(self, files).await
    }

    async fn commit_many(&self, files: &[CommitRequest]) -> Result<Vec<Result<Node>>> {
        Remote::commit_many(self, files).await
    }

    async fn create_folders(&self, folders: &[(NodeId, String)]) -> Result<Vec<Result<Node>>> {
        Remote::create_folders(self, folders).await
    }

    async fn put_block(&self, block: &PresignedBlock, bytes: Vec<u8>) -> Result<()> {
        Remote::put_block(self, block, bytes).await
    }

    async fn get_block(&self, block: &PresignedBlock) -> Result<Vec<u8>> {
        Remote::get_block(self, block).await
    }
}
