// The Files view's dialogs: a name (new folder, rename), move to, revisions, preview.
import { useEffect, useState } from "preact/hooks";
import { ChevronRight, Download, Folder, RotateCcw } from "lucide-preact";
import { formatBytes, formatDateTime } from "@common/format";
import { previewKind } from "@common/fileType";
import { ancestry, downloadUrl, errorText, startDownload, tree, type Node, type NodeId, type Revision } from "../api";
import { Dialog } from "../ui/dialog";
import { toast } from "../ui/toast";

/** Why a name cannot be used, or null (the server's rule, checked early). */
export function nameProblem(name: string): string | null {
  if (!name.trim()) return "A name is needed.";
  if (name === "." || name === "..") return "This name is reserved.";
  if (name.includes("/") || name.includes("\\")) return "A name cannot contain / or \\.";
  if (/[\u0000-\u001f]/.test(name)) return "A name cannot contain control characters.";
  if (new TextEncoder().encode(name).length > 255) return "The name is too long.";
  return null;
}

export function NameDialog({
  title,
  label,
  initial,
  confirm,
  onSubmit,
  onClose,
}: {
  title: string;
  label: string;
  initial: string;
  confirm: string;
  onSubmit: (name: string) => Promise<void>;
  onClose: () => void;
}) {
  const [name, setName] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(event: Event) {
    event.preventDefault();
    const problem = nameProblem(name);
    if (problem) return setError(problem);
    if (name === initial) return onClose();
    setBusy(true);
    try {
      await onSubmit(name);
    } catch (caught) {
      setError(errorText(caught));
      setBusy(false);
    }
  }
  return (
    <Dialog title={title} onClose={onClose}>
      <form class="form" onSubmit={submit}>
        <label>
          {label}
          <input
            type="text"
            name="name"
            value={name}
            autoFocus
            ref={(input) => {
              // Select the stem, not the extension, as file managers do.
              if (input && !input.dataset.selected) {
                input.dataset.selected = "1";
                const dot = initial.lastIndexOf(".");
                setTimeout(() => input.setSelectionRange(0, dot > 0 ? dot : initial.length), 0);
              }
            }}
            onInput={(event) => setName(event.currentTarget.value)}
          />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="buttons end">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            {confirm}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** Where to move `nodes` (one item, or a selection of one folder's). */
export function MoveDialog({
  nodes,
  rootId,
  startId,
  onMove,
  onClose,
}: {
  nodes: Node[];
  rootId: NodeId;
  startId: NodeId;
  onMove: (target: Node) => Promise<void>;
  onClose: () => void;
}) {
  const [at, setAt] = useState(startId);
  const [chain, setChain] = useState<Node[]>([]);
  const [folders, setFolders] = useState<Node[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    let live = true;
    setFolders(null);
    Promise.all([ancestry(at), tree.children(at)])
      .then(([path, children]) => {
        if (!live) return;
        setChain(path);
        setFolders(children.filter((child) => child.kind === "folder"));
      })
      .catch((caught) => live && setError(errorText(caught)));
    return () => {
      live = false;
    };
  }, [at]);
  const here = chain[chain.length - 1];
  const moving = new Set(nodes.map((node) => node.id));
  const inside = chain.some((item) => moving.has(item.id));
  const same = nodes.every((node) => here?.id === node.parent_id);
  async function move() {
    if (!here) return;
    setBusy(true);
    setError(null);
    try {
      await onMove(here);
    } catch (caught) {
      setError(errorText(caught));
      setBusy(false);
    }
  }
  return (
    <Dialog
      title={nodes.length === 1 ? `Move “${nodes[0].name}”` : `Move ${nodes.length} items`}
      onClose={onClose}
      footer={
        <>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button
            type="button"
            class="primary"
            disabled={busy || !here || inside || same || here.read_only}
            onClick={() => void move()}
          >
            Move here
          </button>
        </>
      }
    >
      <nav class="crumbs small-crumbs" aria-label="Destination path">
        <ol>
          {chain.map((item, index) => (
            <li key={item.id}>
              {index > 0 && <ChevronRight size={14} aria-hidden="true" class="crumb-sep" />}
              <button type="button" class="link" onClick={() => setAt(item.id)} aria-current={index === chain.length - 1 ? "location" : undefined}>
                {item.id === rootId ? "Files" : item.name}
              </button>
            </li>
          ))}
        </ol>
      </nav>
      <ul class="picker" aria-label="Folders">
        {folders === null && <li class="muted">Loading…</li>}
        {folders?.length === 0 && <li class="muted">No folders here.</li>}
        {folders?.map((folder) => (
          <li key={folder.id}>
            <button
              type="button"
              class="picker-item"
              disabled={moving.has(folder.id)}
              onClick={() => setAt(folder.id)}
            >
              <Folder size={16} aria-hidden="true" /> {folder.name}
            </button>
          </li>
        ))}
      </ul>
      {inside && <p class="muted small">A folder cannot go inside itself.</p>}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </Dialog>
  );
}

export function RevisionsDialog({
  node,
  onClose,
  onRestored,
}: {
  node: Node;
  onClose: () => void;
  onRestored: () => void;
}) {
  const [revisions, setRevisions] = useState<Revision[] | null>(null);
  const [current, setCurrent] = useState(node.revision);
  const [error, setError] = useState<string | null>(null);
  const load = () =>
    tree
      .revisions(node.id)
      .then(setRevisions)
      .catch((caught) => setError(errorText(caught)));
  useEffect(() => {
    void load();
  }, [node.id]);
  async function restore(revision: Revision) {
    try {
      const restored = await tree.restoreRevision(node.id, revision.id);
      setCurrent(restored.revision);
      toast(`Restored the version of ${formatDateTime(revision.created_at)}.`);
      onRestored();
      await load();
    } catch (caught) {
      setError(errorText(caught));
    }
  }
  return (
    <Dialog title={`Versions of “${node.name}”`} onClose={onClose} wide>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {revisions === null && !error && <p class="muted">Loading…</p>}
      <ul class="revisions">
        {revisions?.map((revision, index) => {
          const isCurrent = current ? revision.id === current : index === 0;
          return (
            <li key={revision.id} class="revision">
              <div class="revision-main">
                <span class="revision-when">{formatDateTime(revision.created_at)}</span>
                <span class="muted small">
                  {formatBytes(revision.size)} · modified {formatDateTime(revision.modified)}
                  {isCurrent && " · current"}
                </span>
              </div>
              <div class="revision-actions">
                <button
                  type="button"
                  aria-label={`Download the version of ${formatDateTime(revision.created_at)}`}
                  onClick={() =>
                    void startDownload(node.id, revision.id).catch((caught) => setError(errorText(caught)))
                  }
                >
                  <Download size={16} aria-hidden="true" /> Download
                </button>
                {!isCurrent && !node.read_only && (
                  <button
                    type="button"
                    aria-label={`Restore the version of ${formatDateTime(revision.created_at)}`}
                    onClick={() => void restore(revision)}
                  >
                    <RotateCcw size={16} aria-hidden="true" /> Restore
                  </button>
                )}
              </div>
            </li>
          );
        })}
      </ul>
    </Dialog>
  );
}

const TEXT_LIMIT = 512 * 1024;

export function PreviewDialog({
  node,
  onClose,
  onDownload,
}: {
  node: Node;
  onClose: () => void;
  onDownload: () => void;
}) {
  const kind = previewKind(node.name);
  const [url, setUrl] = useState<string | null>(null);
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    downloadUrl(node.id, "inline", node.revision ?? undefined)
      .then(async (answer) => {
        if (!live) return;
        if (kind === "text") {
          const response = await fetch(answer.url, { headers: { Range: `bytes=0-${TEXT_LIMIT - 1}` } });
          if (!response.ok) throw new Error(`The file could not be read (${response.status}).`);
          const body = await response.text();
          if (live) setText(body + (node.size > TEXT_LIMIT ? "\n\n… (the rest: download the file)" : ""));
        } else setUrl(answer.url);
      })
      .catch((caught) => live && setError(errorText(caught)));
    return () => {
      live = false;
    };
  }, [node.id]);
  return (
    <Dialog
      title={node.name}
      onClose={onClose}
      wide
      footer={
        <button type="button" onClick={onDownload}>
          <Download size={16} aria-hidden="true" /> Download ({formatBytes(node.size)})
        </button>
      }
    >
      <div class={`preview preview-${kind}`}>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        {!error && !url && text === null && <p class="muted">Loading…</p>}
        {url && kind === "image" && <img src={url} alt={node.name} />}
        {url && kind === "video" && <video src={url} controls preload="metadata" aria-label={node.name} />}
        {url && kind === "audio" && <audio src={url} controls aria-label={node.name} />}
        {url && kind === "pdf" && <iframe src={url} title={`PDF: ${node.name}`} />}
        {text !== null && (
          <pre class="text-preview" tabIndex={0} aria-label={`Contents of ${node.name}`}>
            {text}
          </pre>
        )}
      </div>
    </Dialog>
  );
}
