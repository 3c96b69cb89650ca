//! An in-memory `drive-server` for one user with several devices, for the
//! deterministic simulation: every device talks to the same [`World`]
//! through its own [`SimServer`], which can inject faults drawn from a seeded
//! generator. The rules of each call copy the backend's (see [`model`]); a
//! "web user" can change the tree behind the devices' backs through the
//! `user_*` helpers, and [`World::tree`] and [`World::all_contents`] give the
//! driver what its invariants check.

mod model;

use std::{
    collections::{BTreeMap, HashSet},
    fmt,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use drive_wire::{
    names::split_path, BlockRef, ChangesPage, CommitRequest, Manifest, Node, NodeId, NodeKind, PresignedBlock,
    RevisionId, UploadPlan, User,
};
use rand::{rngs::StdRng, Rng, SeedableRng};

use model::{not_a_folder, rejected, Result, State};
pub use model::{PAGE, SERVER_ID};

use crate::{remote::RemoteError, server::Server};

/// What [`SimServer::address`] answers.
pub const ADDRESS: &str = "sim://server";
/// Block size of the web user's writes (the server does not care how
/// content is cut; small, so that files of a few blocks occur).
const WEB_BLOCK: usize = 64;

/// All the server's state, shared by every device's [`SimServer`]. Cloning
/// gives another handle on the same world.
#[derive(Clone, Default)]
pub struct World {
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("World")
            .field("head", &state.head())
            .finish_non_exhaustive()
    }
}

/// `path` as validated names (400 `invalid_name` otherwise), and at least one.
fn names(path: &str) -> Result<Vec<String>> {
    let names = split_path(path).map_err(|error| rejected("invalid_name", error.to_string()))?;
    if names.is_empty() {
        return Err(rejected("invalid_name", "the root folder has no name"));
    }
    Ok(names)
}

impl World {
    /// A new account with an empty root folder and an empty feed.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The user's root folder.
    pub fn root_id(&self) -> NodeId {
        self.lock().root()
    }

    /// The newest seq of the changes feed (0 while it is empty).
    pub fn head(&self) -> i64 {
        self.lock().head()
    }

    /// The web user saves `bytes` at `path` (from the root, `/`-separated):
    /// a new file, or a new revision of the file there, creating missing
    /// folders on the way. Refused, with nothing changed, when a folder is
    /// in the way (`name_taken`) or a file is where a folder should be
    /// (`not_a_folder`).
    pub fn user_write(&self, path: &str, bytes: &[u8]) -> Result<Node> {
        let names = names(path)?;
        let (name, folders) = names.split_last().ok_or(RemoteError::NotFound)?;
        let mut state = self.lock();
        let parent = ensure_folders(&mut state, folders)?;
        let base = state.live_child(parent, name).map(|node| (node.kind, node.revision));
        if let Some((NodeKind::Folder, _)) = base {
            return Err(RemoteError::NameTaken);
        }
        let blocks = bytes
            .chunks(WEB_BLOCK)
            .map(|chunk| BlockRef {
                hash: state.store_block(chunk),
                size: chunk.len() as u64,
            })
            .collect();
        let modified = chrono::DateTime::from_timestamp_millis(state.tick()).unwrap_or_default();
        state.commit(&CommitRequest {
            parent_id: parent,
            name: name.clone(),
            base_revision: base.and_then(|(_, revision)| revision),
            blocks,
            modified,
            inline: Vec::new(),
        })
    }

    /// The web user makes the folder at `path` and any missing above it;
    /// nothing happens if it is there already. Returns its id.
    pub fn user_mkdir(&self, path: &str) -> Result<NodeId> {
        let names = names(path)?;
        ensure_folders(&mut self.lock(), &names)
    }

    /// The web user renames and/or moves the node at `from` to `to`, whose
    /// folder must exist. The API's refusals apply (`name_taken`,
    /// `invalid_move` into itself).
    pub fn user_rename(&self, from: &str, to: &str) -> Result<Node> {
        let (from, to) = (names(from)?, names(to)?);
        let (name, folders) = to.split_last().ok_or(RemoteError::NotFound)?;
        let mut state = self.lock();
        let id = state.lookup(&from).ok_or(RemoteError::NotFound)?.id;
        let parent = state.lookup(folders).ok_or(RemoteError::NotFound)?;
        if parent.kind != NodeKind::Folder {
            return Err(not_a_folder());
        }
        let parent = parent.id;
        state.update_node(id, Some(name), Some(parent))
    }

    /// The web user sends the node at `path` (with its subtree) to the trash.
    pub fn user_trash(&self, path: &str) -> Result<()> {
        let names = names(path)?;
        let mut state = self.lock();
        let id = state.lookup(&names).ok_or(RemoteError::NotFound)?.id;
        state.trash(id)
    }

    /// The live tree by `/`-path from the root (no leading slash): folders
    /// as `None`, files as `Some` of their current content.
    pub fn tree(&self) -> BTreeMap<String, Option<Vec<u8>>> {
        self.lock().tree()
    }

    /// The content of every revision ever committed, trashed files'
    /// included: whatever a device wrote must be in here.
    pub fn all_contents(&self) -> HashSet<Vec<u8>> {
        self.lock().all_contents()
    }
}

/// The live folder at `names` from the root, made where missing. Checked
/// first, so that a file in the way changes nothing.
fn ensure_folders(state: &mut State, names: &[String]) -> Result<NodeId> {
    let mut at = state.root();
    let mut existing = 0;
    for name in names {
        match state.live_child(at, name) {
            Some(node) if node.kind == NodeKind::Folder => (at, existing) = (node.id, existing + 1),
            Some(_) => return Err(not_a_folder()),
            None => break,
        }
    }
    for name in &names[existing..] {
        at = state.create_folder(at, name)?.id;
    }
    Ok(at)
}

/// What a call meets, drawn before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// 503 before anything happens.
    Unavailable,
    /// The call takes effect, then its answer is lost: 504.
    LostAnswer,
}

/// Deterministic fault injection: the same seed and the same sequence of
/// calls give the same faults.
pub struct Faults {
    rng: StdRng,
    /// Chance that a call fails: half of it as 503 before the call, half as
    /// 504 after it.
    rate: f64,
    injected: u64,
}

impl Faults {
    pub fn new(seed: u64, rate: f64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            rate,
            injected: 0,
        }
    }

    /// No faults (until [`SimServer::set_rate`] says otherwise).
    pub fn none() -> Self {
        Self::new(0, 0.0)
    }

    /// One draw per call, whatever the rate, so that changing the rate does
    /// not shift the sequence.
    fn draw(&mut self) -> Fault {
        let x: f64 = self.rng.gen();
        let fault = if x < self.rate / 2.0 {
            Fault::Unavailable
        } else if x < self.rate {
            Fault::LostAnswer
        } else {
            Fault::None
        };
        if fault != Fault::None {
            self.injected += 1;
        }
        fault
    }
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faults")
            .field("rate", &self.rate)
            .field("injected", &self.injected)
            .finish_non_exhaustive()
    }
}

/// One device's connection to the [`World`], with its own faults.
#[derive(Debug)]
pub struct SimServer {
    world: World,
    faults: Mutex<Faults>,
}

impl SimServer {
    pub fn new(world: World, faults: Faults) -> Self {
        Self {
            world,
            faults: Mutex::new(faults),
        }
    }

    pub fn world(&self) -> &World {
        &self.world
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Changes the chance of a fault (0 turns them off, to let things settle).
    pub fn set_rate(&self, rate: f64) {
        self.faults().rate = rate;
    }

    /// Faults injected so far.
    pub fn faults_injected(&self) -> u64 {
        self.faults().injected
    }

    /// Runs one call on the world, with whatever fault it draws.
    fn call<T>(&self, op: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let fault = self.faults().draw();
        if fault == Fault::Unavailable {
            return Err(RemoteError::Server {
                status: 503,
                message: "the server is unavailable (simulated)".to_owned(),
            });
        }
        let result = op(&mut self.world.lock());
        if fault == Fault::LostAnswer {
            return Err(RemoteError::Server {
                status: 504,
                message: "the answer was lost".to_owned(),
            });
        }
        result
    }
}

#[async_trait::async_trait]
impl Server for SimServer {
    fn address(&self) -> String {
        ADDRESS.to_owned()
    }

    async fn me(&self) -> Result<User> {
        self.call(|state| Ok(state.me()))
    }

    /// Never waits: the simulation runs on one thread and nothing else
    /// could make a change while this call waited.
    async fn changes(&self, since: i64, _wait: Duration) -> Result<ChangesPage> {
        self.call(|state| Ok(state.changes(since)))
    }

    async fn create_folder(&self, parent_id: NodeId, name: &str) -> Result<Node> {
        self.call(|state| state.create_folder(parent_id, name))
    }

    async fn update_node(&self, id: NodeId, name: Option<&str>, parent_id: Option<NodeId>) -> Result<Node> {
        self.call(|state| state.update_node(id, name, parent_id))
    }

    async fn trash(&self, id: NodeId) -> Result<()> {
        self.call(|state| state.trash(id))
    }

    async fn manifest(&self, id: NodeId, revision: Option<RevisionId>) -> Result<Manifest> {
        self.call(|state| state.manifest(id, revision))
    }

    async fn prepare_upload(&self, request: &CommitRequest) -> Result<UploadPlan> {
        self.call(|state| state.prepare_upload(request))
    }

    async fn commit(&self, request: &CommitRequest) -> Result<Node> {
        self.call(|state| state.commit(request))
    }

    /// A batch is one call: a fault fails it whole, before or after it acted.
    async fn prepare_uploads(&self, files: &[CommitRequest]) -> Result<Vec<Result<UploadPlan>>> {
        self.call(|state| Ok(files.iter().map(|file| state.prepare_upload(file)).collect()))
    }

    async fn commit_many(&self, files: &[CommitRequest]) -> Result<Vec<Result<Node>>> {
        self.call(|state| Ok(files.iter().map(|file| state.commit(file)).collect()))
    }

    async fn put_block(&self, block: &PresignedBlock, bytes: Vec<u8>) -> Result<()> {
        self.call(|state| state.put_block(block, bytes))
    }

    async fn get_block(&self, block: &PresignedBlock) -> Result<Vec<u8>> {
        self.call(|state| state.get_block(block))
    }
}

#[cfg(test)]
mod tests;
