// The trash: restore, delete forever, empty.
import { useEffect, useState } from "preact/hooks";
import { RotateCcw, Trash2, X } from "lucide-preact";
import { formatBytes, formatDateTime, timeAgo } from "@common/format";
import { FileIcon } from "@common/components";
import { errorText, onChanges, session, trash, type Node } from "../api";
import { Confirm } from "../ui/dialog";
import { toast } from "../ui/toast";

export function TrashView() {
  const [items, setItems] = useState<Node[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<{ node: Node | null } | null>(null);
  const load = () =>
    trash
      .list()
      .then((list) => {
        setItems(list);
        setError(null);
      })
      .catch((caught) => setError(errorText(caught)));
  useEffect(() => {
    void load();
    let timer: ReturnType<typeof setTimeout> | null = null;
    const off = onChanges(() => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void load(), 150);
    });
    return () => {
      off();
      if (timer) clearTimeout(timer);
    };
  }, []);

  async function restore(node: Node) {
    try {
      await trash.restore(node.id);
      toast(`${node.name} restored.`);
      await load();
    } catch (caught) {
      toast(`Could not restore ${node.name}: ${errorText(caught)}`, true);
    }
  }

  async function purge(node: Node | null) {
    setConfirm(null);
    try {
      if (node) await trash.purge(node.id);
      else await trash.empty();
      toast(node ? `${node.name} deleted for good.` : "Trash emptied.");
      await load();
      void session.reloadUser().catch(() => undefined);
    } catch (caught) {
      toast(errorText(caught), true);
    }
  }

  return (
    <section class="page" aria-labelledby="trash-title">
      <div class="page-head">
        <h1 id="trash-title" class="page-title">
          Trash
        </h1>
        <button
          type="button"
          class="danger"
          disabled={!items?.length}
          onClick={() => setConfirm({ node: null })}
        >
          <Trash2 size={16} aria-hidden="true" /> Empty trash
        </button>
      </div>
      <p class="muted">Items in the trash still count against your storage until deleted for good.</p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {items === null && !error && <p class="muted">Loading…</p>}
      {items?.length === 0 && <div class="empty-state">The trash is empty.</div>}
      {!!items?.length && (
        <ul class="trash-list" aria-label="Items in the trash">
          {items.map((node) => (
            <li key={node.id} class="trash-item" data-name={node.name}>
              <span class="file-icon">
                <FileIcon name={node.name} folder={node.kind === "folder"} />
              </span>
              <span class="trash-main">
                <span class="name-text">{node.name}</span>
                <span class="muted small">
                  {node.kind === "folder" ? "Folder" : formatBytes(node.size)} · deleted{" "}
                  <span title={node.trashed_at ? formatDateTime(node.trashed_at) : ""}>
                    {node.trashed_at ? timeAgo(node.trashed_at) : ""}
                  </span>
                </span>
              </span>
              <span class="trash-actions">
                <button type="button" onClick={() => void restore(node)} aria-label={`Restore ${node.name}`}>
                  <RotateCcw size={16} aria-hidden="true" /> <span class="label">Restore</span>
                </button>
                <button
                  type="button"
                  class="danger"
                  onClick={() => setConfirm({ node })}
                  aria-label={`Delete forever: ${node.name}`}
                >
                  <X size={16} aria-hidden="true" /> <span class="label">Delete forever</span>
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
      {confirm && (
        <Confirm
          title={confirm.node ? "Delete forever?" : "Empty the trash?"}
          message={
            confirm.node
              ? `${confirm.node.name} will be deleted for good, with all its versions. This cannot be undone.`
              : "Everything in the trash will be deleted for good. This cannot be undone."
          }
          confirm={confirm.node ? "Delete forever" : "Empty trash"}
          danger
          onConfirm={() => void purge(confirm.node)}
          onClose={() => setConfirm(null)}
        />
      )}
    </section>
  );
}
