//! The authorization matrix of shared content: the owner, an editor, a viewer,
//! another user and an anonymous caller, against every route that touches a
//! shared folder, its contents, its shares, its links or its owner's trash.
//! Every cell states the status and error code it must get.
//!
//! Callers that must be refused go first, so they find every target intact;
//! each caller has targets of its own, so the ones that may write do not
//! disturb each other.

mod common;

use common::*;
use drive_wire::{ChangesPage, Node, NodeId, ShareId, ShareRole};
use reqwest::Method;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Owner,
    Editor,
    Viewer,
    Stranger,
    Anonymous,
}

use Caller::*;

/// The order calls are made in: the refused first.
const CALLERS: [Caller; 5] = [Anonymous, Stranger, Viewer, Editor, Owner];

impl Caller {
    fn slug(self) -> &'static str {
        match self {
            Owner => "owner",
            Editor => "editor",
            Viewer => "viewer",
            Stranger => "stranger",
            Anonymous => "anonymous",
        }
    }
}

/// Nodes of the shared folder set aside for one caller.
struct Targets {
    /// Renamed by the caller.
    rename: Node,
    /// Trashed by the caller.
    trash: Node,
    /// A folder moved into `sub` by the caller.
    moving: Node,
}

struct World {
    server: TestServer,
    alice: Client,
    bob: Client,
    carol: Client,
    dave: Client,
    folder: Node,
    sub: Node,
    file: Node,
    targets: Vec<(Caller, Targets)>,
    /// Carol's (the viewer's) share.
    viewer_share: ShareId,
    /// A share of another folder with erin, for revocation.
    erins_share: ShareId,
    /// Two items in alice's trash that were in the shared folder.
    trashed: [NodeId; 2],
}

impl World {
    async fn new() -> World {
        let server = TestServer::start().await;
        let alice = server.register("alice@example.com").await;
        let bob = server.register("bob@example.com").await;
        let carol = server.register("carol@example.com").await;
        let dave = server.register("dave@example.com").await;
        server.register("erin@example.com").await;

        let folder = alice.create_folder(alice.root(), "Project").await;
        let sub = alice.create_folder(folder.id, "sub").await;
        let file = alice
            .upload_file(folder.id, "report.txt", &bytes(7, 100_000), None)
            .await;
        // A second revision, so that there is an old one to restore.
        let file = alice
            .upload_file(folder.id, "report.txt", &bytes(8, 90_000), file.revision)
            .await;
        let mut targets = Vec::new();
        for caller in CALLERS {
            let slug = caller.slug();
            targets.push((
                caller,
                Targets {
                    rename: alice
                        .upload_file(folder.id, &format!("rename-{slug}.txt"), b"r", None)
                        .await,
                    trash: alice
                        .upload_file(folder.id, &format!("trash-{slug}.txt"), b"t", None)
                        .await,
                    moving: alice.create_folder(folder.id, &format!("moving-{slug}")).await,
                },
            ));
        }
        let mut trashed = [0; 2];
        for (i, id) in trashed.iter_mut().enumerate() {
            let node = alice
                .upload_file(folder.id, &format!("old-{i}.txt"), b"old", None)
                .await;
            alice.trash(node.id).await.expect_status(204);
            *id = node.id;
        }

        let editor_share = alice.share(folder.id, "bob@example.com", ShareRole::Editor).await;
        bob.accept(editor_share.id).await;
        let viewer_share = alice.share(folder.id, "carol@example.com", ShareRole::Viewer).await;
        carol.accept(viewer_share.id).await;
        let other = alice.create_folder(alice.root(), "Other").await;
        let erins_share = alice.share(other.id, "erin@example.com", ShareRole::Viewer).await;

        World {
            server,
            alice,
            bob,
            carol,
            dave,
            folder,
            sub,
            file,
            targets,
            viewer_share: viewer_share.id,
            erins_share: erins_share.id,
            trashed,
        }
    }

    fn client(&self, caller: Caller) -> Option<&Client> {
        match caller {
            Owner => Some(&self.alice),
            Editor => Some(&self.bob),
            Viewer => Some(&self.carol),
            Stranger => Some(&self.dave),
            Anonymous => None,
        }
    }

    fn targets(&self, caller: Caller) -> &Targets {
        &self
            .targets
            .iter()
            .find(|(c, _)| *c == caller)
            .expect("targets of every caller")
            .1
    }

    async fn call(&self, caller: Caller, method: Method, path: &str, body: Option<Value>) -> Resp {
        let request = match self.client(caller) {
            Some(client) => client.request(method.clone(), path),
            None => self.server.http.request(method.clone(), self.server.url(path)),
        };
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        Resp::read(
            request
                .send()
                .await
                .unwrap_or_else(|e| panic!("{caller:?} {method} {path}: {e}")),
        )
        .await
    }
}

/// What one cell must get: a status, and for a refusal its error code.
type Cell = (u16, &'static str);

const OK: Cell = (200, "");
const CREATED: Cell = (201, "");
const NO_CONTENT: Cell = (204, "");
const READ_ONLY: Cell = (403, "read_only");
const OWNER_ONLY: Cell = (403, "owner_only");
const NOT_FOUND: Cell = (404, "not_found");
const UNAUTHORIZED: Cell = (401, "unauthorized");

/// The request one caller makes on a route.
type RequestFor = Box<dyn Fn(&World, Caller) -> (Method, String, Option<Value>)>;

/// Expected cells in the order owner, editor, viewer, stranger, anonymous.
type Row = [Cell; 5];

fn expected(row: &Row, caller: Caller) -> Cell {
    match caller {
        Owner => row[0],
        Editor => row[1],
        Viewer => row[2],
        Stranger => row[3],
        Anonymous => row[4],
    }
}

const READ: Row = [OK, OK, OK, NOT_FOUND, UNAUTHORIZED];
const WRITE: Row = [OK, OK, READ_ONLY, NOT_FOUND, UNAUTHORIZED];
const CREATE: Row = [CREATED, CREATED, READ_ONLY, NOT_FOUND, UNAUTHORIZED];
const REMOVE: Row = [NO_CONTENT, NO_CONTENT, READ_ONLY, NOT_FOUND, UNAUTHORIZED];
const PUBLISH: Row = [CREATED, OWNER_ONLY, OWNER_ONLY, NOT_FOUND, UNAUTHORIZED];
const OWNERS_TRASH: Row = [OK, NOT_FOUND, NOT_FOUND, NOT_FOUND, UNAUTHORIZED];
const OWNERS_PURGE: Row = [NO_CONTENT, NOT_FOUND, NOT_FOUND, NOT_FOUND, UNAUTHORIZED];

#[tokio::test]
async fn every_role_gets_exactly_its_rights_on_every_route() {
    let mut world = World::new().await;
    let folder = world.folder.id;
    let file = world.file.id;
    let sub = world.sub.id;
    let old_revision = {
        let revisions = world.alice.get(&format!("/api/v1/nodes/{file}/revisions")).await.json();
        revisions[1]["id"].as_i64().expect("an older revision")
    };
    // Blocks the store already holds, so a commit needs no upload.
    let blocks = commit_request(folder, "x", &bytes(8, 90_000), None).0.blocks;

    let routes: Vec<(&str, Row, RequestFor)> = vec![
        (
            "GET node",
            READ,
            Box::new(move |_, _| (Method::GET, format!("/api/v1/nodes/{file}"), None)),
        ),
        (
            "GET children",
            READ,
            Box::new(move |_, _| (Method::GET, format!("/api/v1/nodes/{folder}/children"), None)),
        ),
        (
            "GET lookup",
            READ,
            Box::new(|_, _| (Method::GET, "/api/v1/lookup?path=Project/report.txt".into(), None)),
        ),
        (
            "GET content",
            READ,
            Box::new(move |_, _| (Method::GET, format!("/api/v1/nodes/{file}/content"), None)),
        ),
        (
            "GET manifest",
            READ,
            Box::new(move |_, _| (Method::GET, format!("/api/v1/nodes/{file}/manifest"), None)),
        ),
        (
            "GET revisions",
            READ,
            Box::new(move |_, _| (Method::GET, format!("/api/v1/nodes/{file}/revisions"), None)),
        ),
        (
            "POST restore revision",
            WRITE,
            Box::new(move |_, _| {
                (
                    Method::POST,
                    format!("/api/v1/nodes/{file}/revisions/{old_revision}/restore"),
                    None,
                )
            }),
        ),
        (
            "POST folders",
            CREATE,
            Box::new(move |_, c| {
                let body = json!({ "parent_id": folder, "name": format!("new-{}", c.slug()) });
                (Method::POST, "/api/v1/folders".into(), Some(body))
            }),
        ),
        (
            "POST uploads",
            WRITE,
            Box::new({
                let blocks = blocks.clone();
                move |_, c| {
                    let body = json!({ "parent_id": folder, "name": format!("up-{}.bin", c.slug()),
                        "blocks": blocks, "modified": "2026-01-01T00:00:00Z" });
                    (Method::POST, "/api/v1/uploads".into(), Some(body))
                }
            }),
        ),
        (
            "POST commits",
            CREATE,
            Box::new({
                let blocks = blocks.clone();
                move |_, c| {
                    let body = json!({ "parent_id": folder, "name": format!("commit-{}.bin", c.slug()),
                        "blocks": blocks, "modified": "2026-01-01T00:00:00Z" });
                    (Method::POST, "/api/v1/commits".into(), Some(body))
                }
            }),
        ),
        (
            "PATCH rename",
            WRITE,
            Box::new(|w, c| {
                let id = w.targets(c).rename.id;
                let body = json!({ "name": format!("renamed-{}.txt", c.slug()) });
                (Method::PATCH, format!("/api/v1/nodes/{id}"), Some(body))
            }),
        ),
        (
            "PATCH move",
            WRITE,
            Box::new(move |w, c| {
                let id = w.targets(c).moving.id;
                (
                    Method::PATCH,
                    format!("/api/v1/nodes/{id}"),
                    Some(json!({ "parent_id": sub })),
                )
            }),
        ),
        (
            "DELETE node",
            REMOVE,
            Box::new(|w, c| (Method::DELETE, format!("/api/v1/nodes/{}", w.targets(c).trash.id), None)),
        ),
        (
            "POST links",
            PUBLISH,
            Box::new(move |_, _| (Method::POST, "/api/v1/links".into(), Some(json!({ "node_id": folder })))),
        ),
        (
            "POST shares",
            PUBLISH,
            Box::new(move |_, _| {
                let body = json!({ "node_id": folder, "email": "erin@example.com", "role": "viewer" });
                (Method::POST, "/api/v1/shares".into(), Some(body))
            }),
        ),
        (
            // Carol is party to her share (but only its owner sets roles);
            // bob is not party to it.
            "PATCH share",
            [OK, NOT_FOUND, OWNER_ONLY, NOT_FOUND, UNAUTHORIZED],
            Box::new(|w, _| {
                (
                    Method::PATCH,
                    format!("/api/v1/shares/{}", w.viewer_share),
                    Some(json!({ "role": "viewer" })),
                )
            }),
        ),
        (
            // Only its grantee accepts a share (again: no change).
            "POST accept",
            [NOT_FOUND, NOT_FOUND, OK, NOT_FOUND, UNAUTHORIZED],
            Box::new(|w, _| (Method::POST, format!("/api/v1/shares/{}/accept", w.viewer_share), None)),
        ),
        (
            "DELETE share",
            [NO_CONTENT, NOT_FOUND, NOT_FOUND, NOT_FOUND, UNAUTHORIZED],
            Box::new(|w, _| (Method::DELETE, format!("/api/v1/shares/{}", w.erins_share), None)),
        ),
        (
            "POST trash restore",
            OWNERS_TRASH,
            Box::new(|w, _| (Method::POST, format!("/api/v1/trash/{}/restore", w.trashed[0]), None)),
        ),
        (
            "DELETE trash item",
            OWNERS_PURGE,
            Box::new(|w, _| (Method::DELETE, format!("/api/v1/trash/{}", w.trashed[1]), None)),
        ),
    ];

    let mut failures = Vec::new();
    let mut cells = 0;
    for (route, row, request) in &routes {
        for caller in CALLERS {
            let (method, path, body) = request(&world, caller);
            let resp = world.call(caller, method, &path, body).await;
            let (status, code) = expected(row, caller);
            cells += 1;
            let got_code = resp.code().unwrap_or_default();
            if resp.status.as_u16() != status || (!code.is_empty() && got_code != code) {
                failures.push(format!(
                    "{route} as {caller:?}: expected {status} {code}, got {} {got_code}: {}",
                    resp.status,
                    resp.text()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Lists whose status is 200 for everyone signed in: what is in them.
    for caller in CALLERS {
        let Some(client) = world.client(caller) else {
            for path in ["/api/v1/changes", "/api/v1/trash", "/api/v1/audit", "/api/v1/shares"] {
                world
                    .call(caller, Method::GET, path, None)
                    .await
                    .expect_error(401, "unauthorized");
            }
            continue;
        };
        let feed: ChangesPage = client.all_changes().await;
        let in_feed = feed.changes.iter().any(|c| c.node_id == file && c.node.is_some());
        assert_eq!(in_feed, caller != Stranger, "{caller:?}'s feed holds the shared file");

        let trash = client.trash_list().await;
        let has_trash = trash
            .iter()
            .any(|n| n.id == world.trashed[1] || n.parent_id == Some(folder));
        assert_eq!(has_trash, caller == Owner, "{caller:?}'s trash");

        let audit = client.get("/api/v1/audit").await.json();
        let events = audit["events"].as_array().expect("events").len();
        assert_eq!(events > 0, caller == Owner, "{caller:?}'s audit log: {audit}");

        let shares = client.shares().await;
        let involved = shares.shared_by_me.len() + shares.shared_with_me.len();
        let expected = match caller {
            Owner => 3, // bob, carol, erin (the folder); erin's other share was revoked
            Editor | Viewer => 1,
            _ => 0,
        };
        assert_eq!(involved, expected, "{caller:?}'s shares: {shares:?}");
    }
    world.server.check();
}
