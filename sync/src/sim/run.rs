//! One simulated world, driven by a seed: users edit two or three devices
//! and the web, engines sync with I/O errors, 5xx, lost answers and crashes
//! in between, then everything settles and the invariants are checked.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    sync::Arc,
};

use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use tracing::Instrument;

use super::{
    dying::{DyingFs, DyingServer, Process},
    mem_fs::{FsMode, MemFs},
    server::{Faults, SimServer, World},
};
use crate::{
    engine::{Engine, Report, Setup},
    fs::Fs,
    guard::{Choice, Decisions},
    progress::Quiet,
    scanner::STATE_DIR,
};

/// Steps of random edits and syncs before the world settles.
const STEPS: usize = 60;
/// Rounds of syncing every device, without faults, to settle.
const SETTLE_ROUNDS: usize = 12;
/// Names users pick: case twins, names Windows refuses, non-ASCII.
const NAMES: &[&str] = &[
    "a.txt",
    "b.txt",
    "Notes.md",
    "notes.md",
    "NOTES.md",
    "report.pdf",
    "Docs",
    "docs",
    "x",
    "y",
    "photos",
    "a:b.txt",
    "CON",
    "über.txt",
];

/// A tree by relative path: files with their bytes, folders as `None`.
pub(super) type Tree = BTreeMap<String, Option<Vec<u8>>>;

pub(super) struct Device {
    pub(super) name: String,
    pub(super) mode: FsMode,
    pub(super) fs: MemFs,
    process: Process,
    pub(super) root: PathBuf,
    /// The ledger is SQLite on the real disk; it commits atomically, so a
    /// crash keeps exactly what it committed.
    pub(super) ledger: PathBuf,
    decisions: Decisions,
    /// The server as this device sees it: its faults, its deaths.
    server: Arc<DyingServer>,
    engine: Option<Engine>,
}

/// The world of one seed.
pub struct Sim {
    pub(super) seed: u64,
    pub(super) rng: StdRng,
    pub(super) world: World,
    pub(super) devices: Vec<Device>,
    _ledgers: tempfile::TempDir,
    /// Every content a user ever wrote.
    pub(super) written: BTreeSet<Vec<u8>>,
    /// Contents users themselves deleted or overwrote before any server had
    /// them: theirs to lose.
    pub(super) discarded: BTreeSet<Vec<u8>>,
    next_content: u64,
    /// What happened, for a failing seed's report.
    pub log: Vec<String>,
}

impl Sim {
    pub fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let world = World::new();
        let ledgers = tempfile::tempdir().expect("a temp dir for the ledgers");
        let modes = [FsMode::posix(), FsMode::case_insensitive(), FsMode::windows()];
        let count = rng.gen_range(2..=3);
        let devices = (0..count)
            .map(|i| {
                // The first device is POSIX; the others any kind.
                let mode = if i == 0 {
                    modes[0]
                } else {
                    modes[rng.gen_range(0..modes.len())]
                };
                let fs = MemFs::new(mode);
                let root = PathBuf::from(format!("/home/user{i}/Drive"));
                fs.user_mkdir(&root).expect("the folder");
                fs.jail(&root);
                fs.set_faults(0.0, seed.wrapping_add(i as u64));
                let process = Process::default();
                Device {
                    name: format!("device{i}"),
                    mode,
                    fs: fs.clone(),
                    process: process.clone(),
                    root,
                    ledger: ledgers.path().join(format!("ledger{i}.db")),
                    decisions: Decisions::default(),
                    server: Arc::new(DyingServer {
                        server: SimServer::new(world.clone(), Faults::new(seed.wrapping_add(100 + i as u64), 0.0)),
                        fs: fs.clone(),
                        process: process.clone(),
                    }),
                    engine: None,
                }
            })
            .collect();
        Self {
            seed,
            rng,
            world,
            devices,
            _ledgers: ledgers,
            written: BTreeSet::new(),
            discarded: BTreeSet::new(),
            next_content: 0,
            log: Vec::new(),
        }
    }

    /// Runs the seed: random steps, then settling, then the invariants.
    pub async fn run(&mut self) -> Result<(), String> {
        for _ in 0..STEPS {
            let roll = self.rng.gen_range(0..100);
            match roll {
                0..=39 => self.device_edit(),
                40..=51 => self.web_edit(),
                52..=55 => self.toggle_exclusion().await,
                _ => self.sync_with_trouble().await,
            }
        }
        self.settle().await?;
        self.check()
    }

    fn fresh_content(&mut self) -> Vec<u8> {
        self.next_content += 1;
        let repeat = self.rng.gen_range(1..200);
        let content = format!("seed {} content {}\n", self.seed, self.next_content).repeat(repeat);
        content.into_bytes()
    }

    /// Notes what a user wrote, once it is written.
    fn wrote<E: std::fmt::Debug>(&mut self, content: Vec<u8>, result: Result<(), E>) -> String {
        match result {
            Ok(()) => {
                let name = label(&content);
                self.written.insert(content);
                name
            }
            Err(e) => format!("{e:?}"),
        }
    }

    /// A random path under `tree`'s folders (or the top), with a name from
    /// [`NAMES`].
    fn random_path(&mut self, tree: &Tree) -> String {
        let mut folders: Vec<&String> = tree
            .iter()
            .filter(|(path, content)| content.is_none() && !path.starts_with(STATE_DIR))
            .map(|(path, _)| path)
            .collect();
        folders.sort();
        let name = NAMES[self.rng.gen_range(0..NAMES.len())];
        match folders.choose(&mut self.rng) {
            Some(folder) if self.rng.gen_bool(0.6) => format!("{folder}/{name}"),
            _ => name.to_owned(),
        }
    }

    fn pick(&mut self, tree: &Tree, files: bool) -> Option<String> {
        let candidates: Vec<&String> = tree
            .iter()
            .filter(|(path, content)| content.is_some() == files && !path.starts_with(STATE_DIR))
            .map(|(path, _)| path)
            .collect();
        candidates.choose(&mut self.rng).map(|path| path.to_string())
    }

    /// A file (mostly) or a folder.
    fn pick_any(&mut self, tree: &Tree) -> Option<String> {
        let files = self.rng.gen_bool(0.7);
        self.pick(tree, files)
    }

    /// What is on the server now that no device could be holding any more:
    /// a content is the user's to lose when it is not on the server.
    fn on_server(&self, content: &[u8]) -> bool {
        self.world.all_contents().contains(content)
    }

    fn discard(&mut self, contents: impl IntoIterator<Item = Vec<u8>>) {
        for content in contents {
            if !self.on_server(&content) {
                self.discarded.insert(content);
            }
        }
    }

    /// A user edits one device's folder.
    fn device_edit(&mut self) {
        let index = self.rng.gen_range(0..self.devices.len());
        let (fs, root) = (self.devices[index].fs.clone(), self.devices[index].root.clone());
        let tree = fs.snapshot(&root);
        let at = |rel: &str| local(&root, rel);
        let roll = self.rng.gen_range(0..100);
        let what = match roll {
            0..=34 => {
                let path = self.random_path(&tree);
                let content = self.fresh_content();
                self.discard(contents_at(&fs, &at(&path)));
                let result = fs.user_write(&at(&path), &content);
                format!("write {path}: {}", self.wrote(content, result))
            }
            35..=59 => match self.pick(&tree, true) {
                Some(path) => {
                    let content = self.fresh_content();
                    self.discard(tree.get(&path).cloned().flatten());
                    let result = fs.user_write(&at(&path), &content);
                    format!("edit {path}: {}", self.wrote(content, result))
                }
                None => "nothing to edit".into(),
            },
            60..=69 => {
                let path = self.random_path(&tree);
                format!("mkdir {path}: {:?}", fs.user_mkdir(&at(&path)).err())
            }
            70..=84 => {
                let files = self.rng.gen_bool(0.7);
                match self.pick(&tree, files) {
                    Some(from) => {
                        let to = self.random_path(&tree);
                        let replaced = contents_at(&fs, &at(&to));
                        let result = fs.user_rename(&at(&from), &at(&to));
                        if result.is_ok() {
                            self.discard(replaced);
                        }
                        format!("rename {from} -> {to}: {:?}", result.err())
                    }
                    None => "nothing to rename".into(),
                }
            }
            _ => {
                let files = self.rng.gen_bool(0.75);
                match self.pick(&tree, files) {
                    Some(path) => {
                        let gone = contents_at(&fs, &at(&path));
                        self.discard(gone);
                        format!("delete {path}: {:?}", fs.user_remove(&at(&path)).err())
                    }
                    None => "nothing to delete".into(),
                }
            }
        };
        let name = self.devices[index].name.clone();
        self.log.push(format!("{name}: user: {what}"));
    }

    /// Someone edits on the web.
    fn web_edit(&mut self) {
        let tree = self.world.tree();
        let roll = self.rng.gen_range(0..100);
        let what = match roll {
            0..=49 => {
                let path = match self.pick(&tree, true) {
                    Some(path) if self.rng.gen_bool(0.5) => path,
                    _ => self.random_path(&tree),
                };
                let content = self.fresh_content();
                let result = self.world.user_write(&path, &content).map(drop);
                format!("write {path}: {}", self.wrote(content, result))
            }
            50..=64 => {
                let path = self.random_path(&tree);
                format!("mkdir {path}: {:?}", self.world.user_mkdir(&path).err())
            }
            65..=84 => match self.pick_any(&tree) {
                Some(from) => {
                    let to = self.random_path(&tree);
                    format!("rename {from} -> {to}: {:?}", self.world.user_rename(&from, &to).err())
                }
                None => "nothing to rename".into(),
            },
            _ => match self.pick_any(&tree) {
                Some(path) => format!("trash {path}: {:?}", self.world.user_trash(&path).err()),
                None => "nothing to trash".into(),
            },
        };
        self.log.push(format!("web: {what}"));
    }

    /// A user excludes a folder from sync on one device (selective sync), or
    /// includes an excluded one again.
    async fn toggle_exclusion(&mut self) {
        let index = self.rng.gen_range(0..self.devices.len());
        let name = self.devices[index].name.clone();
        if let Err(e) = self.engine(index).await {
            self.log.push(format!("{name}: user: selective sync: {e}"));
            return;
        }
        let excluded = match &self.devices[index].engine {
            Some(engine) => engine.excluded().await.unwrap_or_default(),
            None => return,
        };
        let include = (!excluded.is_empty() && self.rng.gen_bool(0.5))
            .then(|| excluded.choose(&mut self.rng).cloned())
            .flatten();
        // A folder as the device or the server has it.
        let exclude = || {
            let device = &self.devices[index];
            let mut folders: Vec<String> = device
                .fs
                .snapshot(&device.root)
                .into_iter()
                .chain(self.world.tree())
                .filter(|(path, content)| {
                    content.is_none() && path != STATE_DIR && !path.starts_with(&format!("{STATE_DIR}/"))
                })
                .map(|(path, _)| path)
                .collect();
            folders.sort();
            folders.dedup();
            folders
        };
        let folders = exclude();
        let Some(engine) = &self.devices[index].engine else {
            return;
        };
        let what = match include {
            Some(path) => format!(
                "include {path}: {:?}",
                engine.include(&path).await.map_err(|e| e.to_string())
            ),
            None => match folders.choose(&mut self.rng) {
                Some(path) => format!(
                    "exclude {path}: {:?}",
                    engine.exclude(path).await.map_err(|e| e.to_string())
                ),
                None => "no folder to exclude".into(),
            },
        };
        self.log.push(format!("{name}: user: {what}"));
    }

    /// Opens a device's engine if it is not running.
    async fn engine(&mut self, index: usize) -> Result<(), String> {
        if self.devices[index].engine.is_some() {
            return Ok(());
        }
        let device = &mut self.devices[index];
        let setup = Setup {
            fs: Arc::new(DyingFs {
                fs: device.fs.clone(),
                process: device.process.clone(),
            }),
            server: device.server.clone(),
            host: device.name.clone(),
        };
        let mut engine = Engine::open_on(setup, &device.root, &device.ledger, Arc::new(Quiet))
            .await
            .map_err(|e| format!("{}: opening: {e}", device.name))?;
        engine.share_decisions(device.decisions.clone());
        device.engine = Some(engine);
        Ok(())
    }

    /// One device syncs, with faults; it may crash partway, and a user edit
    /// may land partway.
    async fn sync_with_trouble(&mut self) {
        let index = self.rng.gen_range(0..self.devices.len());
        let fault_rate = [0.0, 0.02, 0.1][self.rng.gen_range(0..3)];
        let die_at = self.rng.gen_bool(0.2).then(|| self.rng.gen_range(0..400));
        let edit = match self.rng.gen_bool(0.15) {
            true => {
                let tree = self.devices[index].fs.snapshot(&self.devices[index].root);
                let path = self.pick(&tree, true).unwrap_or_else(|| "late.txt".into());
                let content = self.fresh_content();
                Some((
                    self.rng.gen_range(0..300),
                    local(&self.devices[index].root, &path),
                    content,
                ))
            }
            false => None,
        };
        let old = edit
            .as_ref()
            .map(|(_, path, _)| contents_at(&self.devices[index].fs, path));
        self.devices[index].process.reset(die_at, edit);
        self.devices[index].fs.set_faults(fault_rate, self.rng.gen());
        self.devices[index].server.server.set_rate(fault_rate);
        let name = self.devices[index].name.clone();
        let outcome = match self.engine(index).await {
            Ok(()) => self.sync(index).await,
            Err(e) => Err(e),
        };
        if let Some((path, content)) = self.devices[index].process.take_landed() {
            let label = label(&content);
            self.written.insert(content);
            self.discard(old.unwrap_or_default());
            self.log
                .push(format!("{name}: user, mid-sync: edit {}: {label}", path.display()));
        }
        self.devices[index].fs.set_faults(0.0, 0);
        self.devices[index].server.server.set_rate(0.0);
        let died = self.devices[index].process.is_dead();
        self.log.push(format!(
            "{name}: sync (faults {fault_rate}, dies at {die_at:?}): {}{}",
            summary(&outcome),
            if died { "; died" } else { "" }
        ));
        if died {
            self.crash(index);
        }
    }

    /// The device's process dies: its engine is gone and only what reached
    /// the disk durably is left.
    fn crash(&mut self, index: usize) {
        let device = &mut self.devices[index];
        device.engine = None;
        device.fs.crash();
        device.process.reset(None, None);
    }

    async fn sync(&mut self, index: usize) -> Result<Report, String> {
        let device = &self.devices[index];
        let Some(engine) = &device.engine else {
            return Err("no engine".into());
        };
        let span = tracing::info_span!("sim", device = %device.name);
        let report = engine.sync_once().instrument(span).await.map_err(|e| e.to_string())?;
        if report.held.is_some() {
            // The user answers the question the app would ask.
            let choice = if self.rng.gen_bool(0.5) {
                Choice::Delete
            } else {
                Choice::Keep
            };
            device.decisions.decide(choice);
            self.log
                .push(format!("{}: user: {choice:?} held deletions", device.name));
        }
        Ok(report)
    }

    /// No more faults: every device syncs in turn until a whole round
    /// changes nothing.
    async fn settle(&mut self) -> Result<(), String> {
        for index in 0..self.devices.len() {
            if self.devices[index].process.is_dead() {
                self.crash(index);
            }
            self.devices[index].process.reset(None, None);
            // Everything excluded comes back, for the trees to be compared.
            self.engine(index).await?;
            if let Some(engine) = &self.devices[index].engine {
                for path in engine.excluded().await.map_err(|e| e.to_string())? {
                    engine.include(&path).await.map_err(|e| e.to_string())?;
                    self.log
                        .push(format!("{}: user: include {path}", self.devices[index].name));
                }
            }
        }
        for round in 0..SETTLE_ROUNDS {
            let before = self.world.tree();
            let mut quiet = true;
            for index in 0..self.devices.len() {
                self.engine(index).await?;
                let report = self.sync(index).await?;
                self.log.push(format!(
                    "{}: settling round {round}: {}",
                    self.devices[index].name,
                    summary(&Ok(report.clone()))
                ));
                quiet &= report.done == 0 && report.in_sync();
            }
            if quiet && self.world.tree() == before {
                return Ok(());
            }
        }
        Err(format!("did not settle in {SETTLE_ROUNDS} rounds"))
    }
}

/// The contents of the file at `path`, or of every file under the folder
/// there.
fn contents_at(fs: &MemFs, path: &Path) -> Vec<Vec<u8>> {
    match fs.metadata(path) {
        Ok(meta) if meta.is_file() => fs.read(path).into_iter().collect(),
        Ok(_) => fs.snapshot(path).into_values().flatten().collect(),
        Err(_) => Vec::new(),
    }
}

/// A content as the log names it: `content 12`.
fn label(content: &[u8]) -> String {
    let text = String::from_utf8_lossy(content);
    let first = text.lines().next().unwrap_or_default();
    first.split_once(" content ").map_or(first, |(_, n)| n).to_owned()
}

fn local(root: &Path, rel: &str) -> PathBuf {
    rel.split('/').fold(root.to_path_buf(), |path, name| path.join(name))
}

fn summary(outcome: &Result<Report, String>) -> String {
    match outcome {
        Ok(report) => format!(
            "done {}, pending {}, errors {:?}, held {}, unsyncable {}",
            report.done,
            report.pending.len(),
            report
                .errors
                .iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect::<Vec<_>>(),
            report.held.as_ref().map_or(0, |held| held.files),
            report.unsyncable.len()
        ),
        Err(e) => format!("failed: {e}"),
    }
}
