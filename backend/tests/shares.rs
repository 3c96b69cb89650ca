//! Sharing with people: invitations, the mount in the grantee's tree, the
//! feed of both sides, roles, revocation, leaving, and the audit log. Who may
//! call which route is checked cell by cell in `authz_matrix.rs`.

mod common;

use std::time::Duration;

use common::*;
use drive_wire::{AuditPage, ChangeKind, ChangesPage, Node, NodeId, Share, ShareRole};
use serde_json::json;

/// Alice's folder `Project` with `notes.txt` and `drafts/plan.txt`.
struct Project {
    folder: Node,
    notes: Node,
    drafts: Node,
    plan: Node,
}

async fn project(alice: &Client) -> Project {
    let folder = alice.create_folder(alice.root(), "Project").await;
    let notes = alice.upload_file(folder.id, "notes.txt", b"first notes", None).await;
    let drafts = alice.create_folder(folder.id, "drafts").await;
    let plan = alice.upload_file(drafts.id, "plan.txt", &bytes(1, 200_000), None).await;
    Project {
        folder,
        notes,
        drafts,
        plan,
    }
}

/// Alice's [`Project`], shared with `grantee` (registered here) as `role`
/// and accepted.
async fn shared_project(server: &TestServer, grantee: &str, role: ShareRole) -> (Client, Client, Project, Share) {
    let alice = server.register("alice@example.com").await;
    let other = server.register(grantee).await;
    let project = project(&alice).await;
    let share = alice.share(project.folder.id, grantee, role).await;
    other.accept(share.id).await;
    (alice, other, project, share)
}

/// The nodes the feed says exist now, by id (later changes win).
fn live_in_feed(page: &ChangesPage) -> std::collections::BTreeMap<NodeId, Node> {
    let mut nodes = std::collections::BTreeMap::new();
    for change in &page.changes {
        match (&change.node, change.kind) {
            (Some(node), kind) if kind != ChangeKind::Trashed && node.trashed_at.is_none() => {
                nodes.insert(change.node_id, node.clone());
            }
            _ => {
                nodes.remove(&change.node_id);
            }
        }
    }
    nodes
}

#[tokio::test]
async fn an_accepted_share_is_mounted_in_the_grantees_root_and_fed_to_them() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    let project = project(&alice).await;

    let share = alice
        .share(project.folder.id, "Bob@Example.com", ShareRole::Viewer)
        .await;
    assert_eq!(share.grantee_email, "bob@example.com");
    assert_eq!(share.owner_email, "alice@example.com");
    assert!(share.accepted_at.is_none());

    // An invitation is listed but not yet in bob's tree.
    let list = bob.shares().await;
    assert_eq!(list.shared_with_me.len(), 1);
    assert!(list.shared_by_me.is_empty());
    assert_eq!(alice.shares().await.shared_by_me[0].id, share.id);
    assert!(bob.child_names(bob.root()).await.is_empty());
    bob.get(&format!("/api/v1/nodes/{}", project.notes.id))
        .await
        .expect_error(404, "not_found");
    assert!(live_in_feed(&bob.all_changes().await).is_empty());

    let accepted = bob.accept(share.id).await;
    assert_eq!(accepted.mount_name.as_deref(), Some("Project"));
    assert!(accepted.accepted_at.is_some());
    // Accepting twice changes nothing.
    assert_eq!(bob.accept(share.id).await.mount_name.as_deref(), Some("Project"));

    let root = bob.children(bob.root()).await;
    assert_eq!(root.len(), 1);
    let mount = &root[0];
    assert_eq!((mount.id, mount.name.as_str()), (project.folder.id, "Project"));
    assert_eq!(mount.parent_id, Some(bob.root()), "mounted in bob's root");
    assert_eq!(mount.share_id, Some(share.id));
    assert!(mount.read_only);
    // Alice still sees her own folder where it is, with no share marks.
    let own = alice.node(project.folder.id).await;
    assert_eq!(
        (own.parent_id, own.share_id, own.read_only),
        (Some(alice.root()), None, false)
    );

    let feed = live_in_feed(&bob.all_changes().await);
    let ids: Vec<NodeId> = feed.keys().copied().collect();
    let mut expected = vec![project.folder.id, project.notes.id, project.drafts.id, project.plan.id];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(feed.values().all(|node| node.read_only));
    assert_eq!(feed[&project.folder.id].parent_id, Some(bob.root()));
    assert_eq!(feed[&project.plan.id].parent_id, Some(project.drafts.id));

    let found = bob.lookup("Project/drafts/plan.txt").await;
    found.expect_status(200);
    assert_eq!(found.parse::<Node>().id, project.plan.id);
    assert_eq!(bob.download(project.plan.id).await, bytes(1, 200_000));
    assert_eq!(
        bob.child_names(project.folder.id).await,
        vec!["drafts".to_owned(), "notes.txt".to_owned()]
    );
    server.check();
}

#[tokio::test]
async fn an_editors_changes_reach_the_owner_and_cost_the_owners_quota() {
    let mut server = TestServer::start().await;
    let (alice, bob, project, _) = shared_project(&server, "bob@example.com", ShareRole::Editor).await;
    let alice_used = alice.me().await.used_bytes;
    let cursor = alice.all_changes().await.cursor;

    // Alice long-polls; bob's commit wakes her.
    let waiting = {
        let alice = alice.clone();
        tokio::spawn(async move { alice.changes(cursor, 30).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = bob
        .upload_file(project.drafts.id, "report.txt", &bytes(2, 50_000), None)
        .await;
    assert!(!report.read_only);
    let woken = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the long-poll woke")
        .expect("the long-poll task");
    assert!(woken.changes.iter().any(|c| c.node_id == report.id));

    assert_eq!(alice.download(report.id).await, bytes(2, 50_000));
    assert_eq!(alice.me().await.used_bytes, alice_used + 50_000, "the owner pays");
    assert_eq!(bob.me().await.used_bytes, 0);

    // Bob edits alice's file; a stale edit still gets 409, as for the owner.
    let edited = bob
        .upload_file(project.folder.id, "notes.txt", b"bob's notes", project.notes.revision)
        .await;
    assert_eq!(alice.download(project.notes.id).await, b"bob's notes");
    bob.try_upload(project.folder.id, "notes.txt", b"stale", project.notes.revision)
        .await
        .expect_error(409, "stale_revision");
    assert_eq!(alice.node(project.notes.id).await.revision, edited.revision);

    // Folders, renames and moves inside the share, and trash: to alice's trash.
    let sub = bob.create_folder(project.folder.id, "from bob").await;
    bob.move_to(report.id, sub.id).await.expect_status(200);
    bob.rename(sub.id, "by bob").await.expect_status(200);
    bob.trash(project.plan.id).await.expect_status(204);
    assert_eq!(
        alice.child_names(project.folder.id).await,
        vec!["by bob".to_owned(), "drafts".to_owned(), "notes.txt".to_owned()]
    );
    assert!(alice.trash_list().await.iter().any(|n| n.id == project.plan.id));
    assert!(bob.trash_list().await.is_empty(), "the trash is the owner's");
    // Bob cannot carry alice's content out of the share, nor bring his in.
    bob.move_to(report.id, bob.root())
        .await
        .expect_error(400, "cross_owner_move");
    let own = bob.create_folder(bob.root(), "mine").await;
    bob.move_to(own.id, project.folder.id)
        .await
        .expect_error(400, "cross_owner_move");

    // Both feeds end in the same state of the shared subtree.
    let alice_feed = live_in_feed(&alice.all_changes().await);
    let bob_feed = live_in_feed(&bob.all_changes().await);
    for id in [project.notes.id, project.drafts.id, sub.id, report.id] {
        assert_eq!(alice_feed[&id].name, bob_feed[&id].name);
        assert_eq!(alice_feed[&id].revision, bob_feed[&id].revision);
    }
    assert!(!bob_feed.contains_key(&project.plan.id));
    server.check();
}

#[tokio::test]
async fn a_viewer_reads_everything_and_changes_nothing() {
    let mut server = TestServer::start().await;
    let (alice, carol, project, _) = shared_project(&server, "carol@example.com", ShareRole::Viewer).await;
    let before = alice.all_changes().await.cursor;

    let (request, _) = commit_request(project.folder.id, "new.txt", b"new", None);
    carol.plan(&request).await.expect_error(403, "read_only");
    carol.commit(&request).await.expect_error(403, "read_only");
    carol
        .try_upload(project.folder.id, "notes.txt", b"edit", project.notes.revision)
        .await
        .expect_error(403, "read_only");
    carol
        .create_folder_raw(project.folder.id, "new")
        .await
        .expect_error(403, "read_only");
    carol
        .rename(project.notes.id, "x.txt")
        .await
        .expect_error(403, "read_only");
    carol
        .move_to(project.notes.id, project.drafts.id)
        .await
        .expect_error(403, "read_only");
    carol.trash(project.plan.id).await.expect_error(403, "read_only");
    let revision = project.notes.revision.expect("a revision");
    carol
        .post_empty(&format!(
            "/api/v1/nodes/{}/revisions/{revision}/restore",
            project.notes.id
        ))
        .await
        .expect_error(403, "read_only");
    // Nor can she publish alice's content or reshare it.
    carol
        .post("/api/v1/links", &json!({ "node_id": project.notes.id }))
        .await
        .expect_error(403, "owner_only");
    carol
        .share_raw(project.folder.id, "alice@example.com", ShareRole::Viewer)
        .await
        .expect_error(403, "owner_only");

    assert_eq!(alice.all_changes().await.cursor, before, "nothing changed");
    assert_eq!(alice.download(project.notes.id).await, b"first notes");
    assert_eq!(carol.download(project.notes.id).await, b"first notes");
    assert_eq!(carol.manifest(project.plan.id, None).await.size, 200_000);
    server.check();
}

#[tokio::test]
async fn a_role_change_reaches_the_grantees_feed() {
    let server = TestServer::start().await;
    let (alice, bob, project, share) = shared_project(&server, "bob@example.com", ShareRole::Editor).await;
    let cursor = bob.all_changes().await.cursor;

    let changed = alice
        .patch(&format!("/api/v1/shares/{}", share.id), &json!({ "role": "viewer" }))
        .await;
    changed.expect_status(200);
    let page = bob.changes(cursor, 0).await;
    let feed = live_in_feed(&page);
    assert_eq!(feed.len(), 4, "the whole subtree again: {page:?}");
    assert!(feed.values().all(|node| node.read_only));
    bob.rename(project.notes.id, "x.txt")
        .await
        .expect_error(403, "read_only");
    // Only the owner changes roles.
    bob.patch(&format!("/api/v1/shares/{}", share.id), &json!({ "role": "editor" }))
        .await
        .expect_error(403, "owner_only");
    // Sharing again with another role is the same share, with that role.
    let again = alice
        .share(project.folder.id, "bob@example.com", ShareRole::Editor)
        .await;
    assert_eq!(again.id, share.id);
    assert!(!bob.node(project.notes.id).await.read_only);
}

#[tokio::test]
async fn revoking_or_leaving_takes_the_share_out_of_the_grantees_tree_only() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    let project = project(&alice).await;

    // Revoked by the owner.
    let share = alice
        .share(project.folder.id, "bob@example.com", ShareRole::Editor)
        .await;
    bob.accept(share.id).await;
    let cursor = bob.all_changes().await.cursor;
    alice
        .delete(&format!("/api/v1/shares/{}", share.id))
        .await
        .expect_status(204);
    let page = bob.changes(cursor, 0).await;
    assert!(page
        .changes
        .iter()
        .any(|c| c.node_id == project.folder.id && c.kind == ChangeKind::Purged && c.node.is_none()));
    assert!(live_in_feed(&bob.all_changes().await).is_empty());
    assert!(bob.child_names(bob.root()).await.is_empty());
    bob.get(&format!("/api/v1/nodes/{}", project.notes.id))
        .await
        .expect_error(404, "not_found");
    assert!(bob.shares().await.shared_with_me.is_empty());

    // Left by the grantee, by deleting the mount: alice's folder stays.
    let share = alice
        .share(project.folder.id, "bob@example.com", ShareRole::Editor)
        .await;
    bob.accept(share.id).await;
    assert_eq!(live_in_feed(&bob.all_changes().await).len(), 4, "back in bob's feed");
    bob.trash(project.folder.id).await.expect_status(204);
    assert!(bob.child_names(bob.root()).await.is_empty());
    assert!(alice.node(project.folder.id).await.trashed_at.is_none());
    assert_eq!(alice.download(project.notes.id).await, b"first notes");
    assert!(alice.shares().await.shared_by_me.is_empty());

    let audit: AuditPage = {
        let resp = alice.get("/api/v1/audit").await;
        resp.expect_status(200);
        resp.parse()
    };
    let kinds: Vec<String> = audit
        .events
        .iter()
        .rev()
        .map(|e| serde_json::to_value(e.kind).unwrap().as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "share_created",
            "share_accepted",
            "share_revoked",
            "share_created",
            "share_accepted",
            "share_left"
        ]
    );
    assert!(audit
        .events
        .iter()
        .all(|e| e.share_id.is_some() && e.node_id == Some(project.folder.id)));
    assert_eq!(audit.events[0].actor_email.as_deref(), Some("bob@example.com"));
    assert!(bob.get("/api/v1/audit").await.parse::<AuditPage>().events.is_empty());
    server.check();
}

#[tokio::test]
async fn mounts_get_a_free_name_and_the_grantee_may_rename_theirs() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    let project = project(&alice).await;
    bob.create_folder(bob.root(), "Project").await;
    let share = alice
        .share(project.folder.id, "bob@example.com", ShareRole::Editor)
        .await;
    assert_eq!(bob.accept(share.id).await.mount_name.as_deref(), Some("Project (2)"));
    // Names in bob's root are unique across his folders and his mounts.
    bob.create_folder_raw(bob.root(), "Project (2)")
        .await
        .expect_error(409, "name_taken");
    bob.rename(project.folder.id, "Project")
        .await
        .expect_error(409, "name_taken");

    let renamed = bob.rename(project.folder.id, "Alice's project").await;
    renamed.expect_status(200);
    let renamed: Node = renamed.parse();
    assert_eq!(
        (renamed.name.as_str(), renamed.parent_id),
        ("Alice's project", Some(bob.root()))
    );
    assert_eq!(
        alice.node(project.folder.id).await.name,
        "Project",
        "alice's name is hers"
    );
    bob.lookup("Alice's project/notes.txt").await.expect_status(200);
    // A mount stays in bob's root.
    let own = bob.lookup("Project").await.parse::<Node>();
    bob.move_to(project.folder.id, own.id)
        .await
        .expect_error(400, "cross_owner_move");

    // A single shared file is mounted too, and its grantee edits it in place.
    let file = alice.upload_file(alice.root(), "budget.xlsx", b"v1", None).await;
    let share = alice.share(file.id, "bob@example.com", ShareRole::Editor).await;
    bob.accept(share.id).await;
    let updated = bob.upload_file(bob.root(), "budget.xlsx", b"v2", file.revision).await;
    assert_eq!(updated.id, file.id);
    assert_eq!(alice.download(file.id).await, b"v2");
    server.check();
}

#[tokio::test]
async fn moves_across_the_share_boundary_reach_the_grantee() {
    let server = TestServer::start().await;
    let (alice, bob, project, _) = shared_project(&server, "bob@example.com", ShareRole::Viewer).await;

    // Out of the share: gone for bob.
    alice.move_to(project.drafts.id, alice.root()).await.expect_status(200);
    let feed = live_in_feed(&bob.all_changes().await);
    assert!(!feed.contains_key(&project.drafts.id));
    bob.get(&format!("/api/v1/nodes/{}", project.plan.id))
        .await
        .expect_error(404, "not_found");

    // Back in, with what is inside it: all of it reaches bob.
    alice
        .move_to(project.drafts.id, project.folder.id)
        .await
        .expect_status(200);
    let feed = live_in_feed(&bob.all_changes().await);
    assert_eq!(feed[&project.plan.id].parent_id, Some(project.drafts.id));
    assert!(feed[&project.plan.id].read_only);
    assert_eq!(bob.download(project.plan.id).await, bytes(1, 200_000));
}

#[tokio::test]
async fn bad_share_requests_are_refused_clearly() {
    let server = TestServer::start().await;
    let alice = server.register("alice@example.com").await;
    let bob = server.register("bob@example.com").await;
    let project = project(&alice).await;

    alice
        .share_raw(project.folder.id, "nobody@example.com", ShareRole::Viewer)
        .await
        .expect_error(404, "unknown_user");
    alice
        .share_raw(project.folder.id, "not an email", ShareRole::Viewer)
        .await
        .expect_error(400, "invalid_email");
    alice
        .share_raw(project.folder.id, "alice@example.com", ShareRole::Viewer)
        .await
        .expect_error(400, "bad_request");
    alice
        .share_raw(alice.root(), "bob@example.com", ShareRole::Viewer)
        .await
        .expect_error(400, "bad_request");
    // Bob's guess at alice's ids finds nothing.
    bob.share_raw(project.folder.id, "alice@example.com", ShareRole::Viewer)
        .await
        .expect_error(404, "not_found");
    alice
        .post(
            "/api/v1/shares",
            &json!({ "node_id": project.folder.id, "email": "bob@example.com", "role": "admin" }),
        )
        .await
        .expect_error(400, "bad_request");

    // Nested shares with one grantee would show him the inner part twice.
    alice
        .share(project.folder.id, "bob@example.com", ShareRole::Viewer)
        .await;
    alice
        .share_raw(project.drafts.id, "bob@example.com", ShareRole::Editor)
        .await
        .expect_error(409, "already_shared");
    let other = server.register("carol@example.com").await;
    alice
        .share(project.drafts.id, "carol@example.com", ShareRole::Editor)
        .await;
    alice
        .share_raw(project.folder.id, "carol@example.com", ShareRole::Viewer)
        .await
        .expect_error(409, "already_shared");
    // Another user's share ids are not found.
    let carols = other.shares().await.shared_with_me[0].id;
    bob.post_empty(&format!("/api/v1/shares/{carols}/accept"))
        .await
        .expect_error(404, "not_found");
    bob.delete(&format!("/api/v1/shares/{carols}"))
        .await
        .expect_error(404, "not_found");
}
