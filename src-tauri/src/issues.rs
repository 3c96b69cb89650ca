//! What needs the user, in plain words: items left alone (symlinks,
//! unreadable files, names one side cannot hold), files that failed,
//! deletions held for a choice, and conflicts. Listed in the window's
//! "Issues" view, counted on the tray, and each new one announced once by a
//! desktop notification (kept in [`Notices`], which tests read).

use std::{
    collections::{HashSet, VecDeque},
    path::Path,
    sync::Mutex,
};

use drive_sync::activity::{conflict_original, Action, Activity, Status};
use serde::Serialize;

/// Notifications remembered (the newest).
const NOTICES_KEPT: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// A local item left alone: a link, something unreadable, a bad name.
    Skipped,
    /// An item that could not be synced (it is tried again), or a server
    /// item this device cannot hold.
    Failed,
    /// Files deleted here whose deletion waits for the user's choice.
    Held,
    /// Changed on both sides: both versions kept.
    Conflict,
}

/// One problem, told for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub kind: IssueKind,
    /// The item, relative to the synced folder (`/`-separated); for a held
    /// deletion, the first file.
    pub path: String,
    /// What happened, in one sentence.
    pub title: String,
    /// What to do about it.
    pub advice: String,
}

impl Issue {
    /// Tells issues apart across updates (one notification each).
    pub fn key(&self) -> String {
        format!("{:?}:{}:{}", self.kind, self.path, self.title)
    }
}

fn name_of(path: &str) -> &str {
    path.rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or(path)
}

/// A skipped item's reason (the scanner's words) as what happened and what to do.
fn skipped_words(path: &str, reason: &str) -> (String, String) {
    let name = name_of(path);
    let reason_lower = reason.to_lowercase();
    if reason_lower.contains("symbolic link") {
        (
            format!("{name} is a link to somewhere else, so it is not synced"),
            "Drive does not follow links. To sync what it points to, move or copy the real file or folder into your Drive folder.".into(),
        )
    } else if reason_lower.contains("permission") || reason_lower.contains("cannot read") {
        (
            format!("{name} cannot be read, so it is not synced"),
            "Give yourself permission to read it (in its Properties, or with chmod u+r), or move it out of your Drive folder.".into(),
        )
    } else if reason_lower.contains("not a regular file") {
        (
            format!("{name} is not an ordinary file, so it is not synced"),
            "Special files (sockets, pipes, devices) cannot be synced. Move it out of your Drive folder to hide this."
                .into(),
        )
    } else {
        (
            format!("{name} is not synced: {}", plain(reason)),
            "Rename it to a name without the characters or spelling mentioned, and it syncs.".into(),
        )
    }
}

/// Drops what only engineers read (HTTP statuses, OS error numbers) from a message.
pub fn plain(message: &str) -> String {
    let mut text = message.to_owned();
    // "... (os error 13)"
    while let Some(start) = text.find(" (os error") {
        let Some(end) = text[start..].find(')') else { break };
        text.replace_range(start..start + end + 1, "");
    }
    // "HTTP 503: ..." / "status 500 ..."
    for prefix in ["HTTP ", "http ", "status "] {
        while let Some(start) = text.find(prefix) {
            let digits = text[start + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if digits != 3 {
                break;
            }
            let mut end = start + prefix.len() + digits;
            if text[end..].starts_with(':') {
                end += 1;
            }
            text.replace_range(start..end, "");
            text = text.trim_start().to_owned();
        }
    }
    text.trim().to_owned()
}

/// The issues in a status and the recent activity. `exists` says whether
/// a path (relative to the folder) is still there: a conflict whose copy
/// was deleted is settled.
pub fn collect(status: &Status, activity: &[Activity], exists: impl Fn(&str) -> bool) -> Vec<Issue> {
    let mut issues = Vec::new();
    if let Some(held) = &status.held {
        issues.push(Issue {
            kind: IssueKind::Held,
            path: held.paths.first().cloned().unwrap_or_default(),
            title: format!(
                "{} of your {} files were deleted here and are not yet deleted on the server",
                held.files, held.of
            ),
            advice: "If you meant it, choose \"Delete them everywhere\". If not (a disk that was not mounted, a folder emptied by mistake), choose \"Keep my files\" and they come back.".into(),
        });
    }
    for item in &status.skipped {
        let (title, advice) = skipped_words(&item.path, &item.message);
        issues.push(Issue {
            kind: IssueKind::Skipped,
            path: item.path.clone(),
            title,
            advice,
        });
    }
    for error in &status.errors {
        let name = name_of(&error.path);
        let (title, advice) = if let Some(why) = error.message.strip_prefix("can't be synced on this device: ") {
            (
                format!(
                    "{name} is on the server but cannot be kept on this device: {}",
                    plain(why)
                ),
                "Rename it from the web or from another device; it stays safe on the server meanwhile.".into(),
            )
        } else {
            (
                format!("{name} could not be synced: {}", plain(&error.message)),
                "Drive tries again by itself. If this stays, check that the file is not open in another program and that there is room on the disk and on the server.".into(),
            )
        };
        issues.push(Issue {
            kind: IssueKind::Failed,
            path: error.path.clone(),
            title,
            advice,
        });
    }
    let mut seen = HashSet::new();
    for a in activity {
        if a.action != Action::ConflictCopy || a.error.is_some() || !seen.insert(a.path.clone()) {
            continue;
        }
        if !exists(&a.path) {
            continue;
        }
        let original = conflict_original(&a.path).unwrap_or_else(|| a.path.clone());
        issues.push(Issue {
            kind: IssueKind::Conflict,
            path: a.path.clone(),
            title: format!(
                "{} was changed here and on another device at the same time",
                name_of(&original)
            ),
            advice: format!(
                "Both versions are kept: yours is now \"{}\". Open both, keep what you need in one, and delete the other.",
                name_of(&a.path)
            ),
        });
    }
    issues
}

/// Whether `relative` (in the folder `root`) is there.
pub fn exists_in(root: Option<&Path>, relative: &str) -> bool {
    root.is_some_and(|root| {
        relative
            .split('/')
            .filter(|p| !p.is_empty())
            .fold(root.to_path_buf(), |at, part| at.join(part))
            .exists()
    })
}

/// A desktop notification the app gave (or tried to: with no notification
/// service, `shown` is false).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub title: String,
    pub body: String,
    pub shown: bool,
}

/// The notifications given, and the issues already announced.
#[derive(Default)]
pub struct Notices {
    inner: Mutex<NoticesInner>,
}

#[derive(Default)]
struct NoticesInner {
    given: VecDeque<Notice>,
    announced: HashSet<String>,
}

impl Notices {
    pub fn record(&self, title: &str, body: &str, shown: bool) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.given.len() == NOTICES_KEPT {
            inner.given.pop_front();
        }
        inner.given.push_back(Notice {
            title: title.to_owned(),
            body: body.to_owned(),
            shown,
        });
    }

    /// The newest first.
    pub fn given(&self) -> Vec<Notice> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.given.iter().rev().cloned().collect()
    }

    /// The issues not announced yet (each is announced once; one that goes
    /// away and comes back is announced again).
    pub fn to_announce(&self, issues: &[Issue]) -> Vec<Issue> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now: HashSet<String> = issues.iter().map(Issue::key).collect();
        inner.announced.retain(|key| now.contains(key));
        issues
            .iter()
            .filter(|issue| inner.announced.insert(issue.key()))
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.announced.clear();
    }
}

/// One notification for the issues just found: the issue itself when one,
/// a count otherwise.
pub fn announcement(new: &[Issue]) -> Option<(String, String)> {
    match new {
        [] => None,
        [issue] => {
            let title = match issue.kind {
                IssueKind::Conflict => "A file was changed in two places",
                IssueKind::Skipped => "An item in your Drive folder is not synced",
                IssueKind::Failed => "A file could not be synced",
                IssueKind::Held => "Files deleted here were not deleted on the server",
            };
            Some((title.to_owned(), format!("{}. {}", issue.title, issue.advice)))
        }
        many => {
            let mut body: Vec<String> = many.iter().take(3).map(|issue| format!("{}.", issue.title)).collect();
            if many.len() > 3 {
                body.push(format!("And {} more.", many.len() - 3));
            }
            body.push("Open Drive's Issues to see what to do.".to_owned());
            Some((format!("{} items in your Drive need you", many.len()), body.join(" ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use drive_sync::{activity::Summary, engine::PathError, guard::Held};

    use super::*;

    fn status() -> Status {
        Status::new(1, Summary::UpToDate)
    }

    fn activity(path: &str, action: Action) -> Activity {
        serde_json::from_value(serde_json::json!({
            "seq": 1, "at": "2026-12-02T10:00:00Z", "path": path, "action": action,
            "text": "", "error": null,
        }))
        .unwrap()
    }

    #[test]
    fn each_problem_is_told_in_words_with_what_to_do() {
        let mut status = status();
        status.skipped = vec![
            PathError {
                path: "docs/link".into(),
                message: "symbolic links are not synced".into(),
            },
            PathError {
                path: "secret.txt".into(),
                message: "cannot read: Permission denied (os error 13)".into(),
            },
        ];
        status.errors = vec![PathError {
            path: "a:b.txt".into(),
            message: "can't be synced on this device: the name has a character this device cannot hold".into(),
        }];
        status.held = Some(Held {
            files: 2,
            of: 3,
            paths: vec!["x.txt".into(), "y.txt".into()],
        });
        let copy = "notes (conflicted copy host 2026-12-02).txt";
        let history = [
            activity(copy, Action::ConflictCopy),
            activity(copy, Action::ConflictCopy),
            activity("gone (conflicted copy host 2026-12-01).txt", Action::ConflictCopy),
            activity("up.txt", Action::Uploaded),
        ];
        let issues = collect(&status, &history, |path| path == copy);
        let kinds: Vec<IssueKind> = issues.iter().map(|i| i.kind).collect();
        assert_eq!(
            kinds,
            [
                IssueKind::Held,
                IssueKind::Skipped,
                IssueKind::Skipped,
                IssueKind::Failed,
                IssueKind::Conflict
            ]
        );
        assert!(issues[1].title.contains("link") && issues[1].advice.contains("real file"));
        assert!(!issues[2].title.contains("os error"), "{}", issues[2].title);
        assert!(issues[3].advice.contains("Rename"));
        assert!(
            issues[4].title.starts_with("notes.txt was changed"),
            "{}",
            issues[4].title
        );
        assert!(issues[4].advice.contains(copy));
    }

    #[test]
    fn codes_are_dropped_from_messages() {
        assert_eq!(
            plain("cannot read: Permission denied (os error 13)"),
            "cannot read: Permission denied"
        );
        assert_eq!(plain("HTTP 503: the server is busy"), "the server is busy");
        assert_eq!(plain("nothing to drop"), "nothing to drop");
    }

    #[test]
    fn issues_are_announced_once_and_again_after_they_went_away() {
        let notices = Notices::default();
        let issue = Issue {
            kind: IssueKind::Conflict,
            path: "a".into(),
            title: "t".into(),
            advice: "d".into(),
        };
        assert_eq!(notices.to_announce(std::slice::from_ref(&issue)).len(), 1);
        assert!(notices.to_announce(std::slice::from_ref(&issue)).is_empty());
        assert!(notices.to_announce(&[]).is_empty());
        assert_eq!(notices.to_announce(std::slice::from_ref(&issue)).len(), 1);
        let (title, body) = announcement(&[issue]).unwrap();
        assert_eq!(title, "A file was changed in two places");
        assert!(body.contains("t. d"));
        notices.record("t", "b", false);
        assert_eq!(notices.given()[0].title, "t");
    }
}
