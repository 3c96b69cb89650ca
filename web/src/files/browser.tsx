// The Files view: breadcrumbs, toolbar, a virtualised list of the open folder,
// keyboard navigation, multi-select (Ctrl/⌘ + click, Shift + click or arrows,
// Ctrl + A) with trash, move and zip of the selection, drag-and-drop moves,
// live updates from the changes feed.
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import {
  ArrowDown,
  ArrowUp,
  ChevronRight,
  Download,
  Eye,
  FolderInput,
  FolderPlus,
  History,
  MoreVertical,
  Pencil,
  Search,
  Share2,
  Trash2,
  X,
} from "lucide-preact";
import { formatBytes, formatDateTime, timeAgo } from "@common/format";
import { FileIcon } from "@common/components";
import { previewKind } from "@common/fileType";
import {
  ancestry,
  errorText,
  onChanges,
  session,
  startDownload,
  tree,
  type Node,
  type NodeId,
  type SortKey,
  type SortOrder,
} from "../api";
import { folderPath, linkHandler, navigate } from "../router";
import { toast } from "../ui/toast";
import { dropUpload, UploadButton } from "../upload";
import { ShareDialog } from "../sharing";
import { Dialog } from "../ui/dialog";
import { filterNodes, sortNodes } from "./sort";
import { scrollToReveal, windowRange } from "./virtual";
import { MoveDialog, NameDialog, PreviewDialog, RevisionsDialog } from "./dialogs";
import { NONE, only, prune, select, selectAll, selectedIn, type Selection } from "./selection";

export const ROW_HEIGHT = 44;
const HEADER_HEIGHT = 36;
const NODE_TYPE = "application/x-drive-node";

type Modal =
  | { kind: "new-folder" }
  | { kind: "rename"; node: Node }
  | { kind: "move"; nodes: Node[] }
  | { kind: "revisions"; node: Node }
  | { kind: "preview"; node: Node }
  | { kind: "share"; node: Node }
  | null;

const SORT_KEY = "drive.sort";
function savedSort(): { key: SortKey; order: SortOrder } {
  try {
    const saved = JSON.parse(localStorage.getItem(SORT_KEY) ?? "null");
    if (saved && ["name", "size", "modified"].includes(saved.key) && ["asc", "desc"].includes(saved.order)) return saved;
  } catch {
    // Ignored: the default below.
  }
  return { key: "name", order: "asc" };
}

export function FilesView({ folderId, rootId }: { folderId: NodeId; rootId: NodeId }) {
  const [chain, setChain] = useState<Node[]>([]);
  const [items, setItems] = useState<Node[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [sort, setSort] = useState(savedSort);
  const [query, setQuery] = useState("");
  const [activeId, setActiveId] = useState<NodeId | null>(null);
  const [selection, setSelection] = useState<Selection>(NONE);
  const [modal, setModal] = useState<Modal>(null);
  const [menuFor, setMenuFor] = useState<NodeId | null>(null);
  const known = useRef(new Map<NodeId, Node>());
  const gridRef = useRef<HTMLDivElement>(null);

  const folder = chain.length ? chain[chain.length - 1] : null;

  const load = useCallback(
    async (signal?: AbortSignal) => {
      try {
        const [path, children] = await Promise.all([
          ancestry(folderId, new Map()),
          tree.children(folderId, "name", "asc", signal),
        ]);
        if (signal?.aborted) return;
        for (const node of path) known.current.set(node.id, node);
        setChain(path);
        setItems(children);
        setError(null);
      } catch (caught) {
        if (signal?.aborted) return;
        setError(errorText(caught));
        setItems([]);
      }
    },
    [folderId],
  );

  useEffect(() => {
    const controller = new AbortController();
    setItems(null);
    setQuery("");
    setActiveId(null);
    setSelection(NONE);
    void load(controller.signal);
    return () => controller.abort();
  }, [folderId]);

  // Live: reload when a change touches this folder or what it lists.
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const schedule = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        void load();
        void session.reloadUser().catch(() => undefined);
      }, 120);
    };
    const off = onChanges((changes, relist) => {
      if (relist) return schedule();
      const listed = new Set((items ?? []).map((node) => node.id));
      const touches = changes.some(
        (change) =>
          change.node_id === folderId ||
          listed.has(change.node_id) ||
          change.node?.parent_id === folderId ||
          chain.some((node) => node.id === change.node_id),
      );
      if (touches) schedule();
    });
    return () => {
      off();
      if (timer) clearTimeout(timer);
    };
  }, [folderId, items, chain, load]);

  const shown = useMemo(
    () => filterNodes(sortNodes(items ?? [], sort.key, sort.order), query),
    [items, sort, query],
  );
  const activeIndex = activeId ? shown.findIndex((node) => node.id === activeId) : -1;
  const active = activeIndex >= 0 ? shown[activeIndex] : null;
  const order = useMemo(() => shown.map((node) => node.id), [shown]);
  // What is selected and still shown (a filter, a deletion or a move elsewhere drops it).
  useEffect(() => setSelection((current) => prune(current, order)), [order]);
  const chosen = selectedIn(selection, shown);

  /** Moves the cursor to `id`; the selection follows (see selection.ts for the modifiers). */
  function activate(id: NodeId, modifiers: { toggle?: boolean; extend?: boolean } = {}) {
    setActiveId(id);
    setSelection((current) => select(current, order, id, modifiers));
  }

  function changeSort(key: SortKey) {
    const next: { key: SortKey; order: SortOrder } = {
      key,
      order: sort.key === key && sort.order === "asc" ? "desc" : sort.key === key ? "asc" : key === "name" ? "asc" : "desc",
    };
    setSort(next);
    localStorage.setItem(SORT_KEY, JSON.stringify(next));
  }

  function open(node: Node) {
    if (node.kind === "folder") navigate(folderPath(node.id === rootId ? null : node.id));
    else if (previewKind(node.name)) setModal({ kind: "preview", node });
    else void download(node);
  }

  function goUp() {
    if (folder?.parent_id) navigate(folderPath(folder.parent_id === rootId ? null : folder.parent_id));
  }

  async function download(node: Node) {
    try {
      await startDownload(node.id);
    } catch (caught) {
      toast(`Could not download ${node.name}: ${errorText(caught)}`, true);
    }
  }

  async function moveTo(node: Node, parentId: NodeId) {
    if (node.id === parentId || node.parent_id === parentId) return;
    try {
      await tree.move(node.id, parentId);
      const target = known.current.get(parentId);
      toast(`Moved ${node.name}${target ? ` to ${target.name || "Files"}` : ""}.`);
      await load();
    } catch (caught) {
      toast(`Could not move ${node.name}: ${errorText(caught)}`, true);
    }
  }

  async function trashMany(nodes: Node[]) {
    const writable = nodes.filter((node) => !node.read_only);
    let failed = 0;
    let last = "";
    for (const node of writable) {
      try {
        await tree.trash(node.id);
      } catch (caught) {
        failed += 1;
        last = `${node.name}: ${errorText(caught)}`;
      }
    }
    const done = writable.length - failed;
    if (done) toast(`${done} item${done === 1 ? "" : "s"} moved to the trash.`);
    if (failed) toast(`Could not delete ${failed} item${failed === 1 ? "" : "s"} (${last}).`, true);
    if (writable.length < nodes.length) toast(`${nodes.length - writable.length} read-only item(s) left as they were.`, true);
    setSelection(NONE);
    await load();
  }

  async function moveMany(nodes: Node[], target: Node) {
    let failed = 0;
    let last = "";
    for (const node of nodes) {
      if (node.parent_id === target.id) continue;
      try {
        await tree.move(node.id, target.id);
      } catch (caught) {
        failed += 1;
        last = `${node.name}: ${errorText(caught)}`;
      }
    }
    const where = target.id === rootId ? "Files" : target.name;
    if (failed === nodes.length) throw new Error(last);
    toast(`Moved ${nodes.length === 1 ? nodes[0].name : `${nodes.length - failed} items`} to ${where}.`);
    if (failed) toast(`Could not move ${failed} item${failed === 1 ? "" : "s"} (${last}).`, true);
    await load();
  }

  async function downloadMany(nodes: Node[]) {
    if (!folder) return;
    try {
      await startDownload(folder.id, undefined, nodes.map((node) => node.id));
    } catch (caught) {
      toast(`Could not download the selection: ${errorText(caught)}`, true);
    }
  }

  async function toTrash(node: Node) {
    if (node.read_only) return toast(`${node.name} is read-only.`, true);
    const index = shown.findIndex((item) => item.id === node.id);
    try {
      await tree.trash(node.id);
      setItems((list) => (list ?? []).filter((item) => item.id !== node.id));
      const next = shown[index + 1] ?? shown[index - 1];
      setActiveId(next ? next.id : null);
      setSelection(next ? only(next.id) : NONE);
      toast(`${node.name} moved to the trash.`);
    } catch (caught) {
      toast(`Could not delete ${node.name}: ${errorText(caught)}`, true);
    }
  }

  function onKeyDown(event: KeyboardEvent) {
    if (modal || event.target !== gridRef.current) return;
    const page = Math.max(1, Math.floor(((gridRef.current?.clientHeight ?? 400) - HEADER_HEIGHT) / ROW_HEIGHT) - 1);
    // Shift extends the selection from its anchor; Ctrl/⌘ moves the cursor alone.
    const goTo = (index: number) => {
      if (!shown.length) return;
      const clamped = Math.max(0, Math.min(shown.length - 1, index));
      const id = shown[clamped].id;
      if (event.ctrlKey || event.metaKey) setActiveId(id);
      else activate(id, { extend: event.shiftKey });
    };
    const ctrl = event.ctrlKey || event.metaKey;
    switch (event.key) {
      case "ArrowDown":
        goTo(activeIndex + 1);
        break;
      case "ArrowUp":
        if (event.altKey) goUp();
        else goTo(activeIndex <= 0 ? 0 : activeIndex - 1);
        break;
      case "PageDown":
        goTo(activeIndex + page);
        break;
      case "PageUp":
        goTo(activeIndex - page);
        break;
      case "Home":
        goTo(0);
        break;
      case "End":
        goTo(shown.length - 1);
        break;
      case "Enter":
        if (active) open(active);
        break;
      case "Backspace":
        goUp();
        break;
      case "Delete":
        if (chosen.length > 1) void trashMany(chosen);
        else if (active) void toTrash(active);
        break;
      case "a":
      case "A":
        if (!ctrl) return;
        setSelection((current) => selectAll(current, order));
        break;
      case " ":
        // Ctrl + Space adds or removes the item under the cursor.
        if (!active || !ctrl) return;
        activate(active.id, { toggle: true });
        break;
      case "Escape":
        if (chosen.length === 0) return;
        setSelection(active ? only(active.id) : NONE);
        break;
      case "F2":
        if (active && !active.read_only) setModal({ kind: "rename", node: active });
        break;
      default:
        return;
    }
    event.preventDefault();
  }

  const readOnly = folder?.read_only ?? false;
  const actions = active ? itemActions(active) : [];

  function itemActions(node: Node) {
    const list: { label: string; icon: typeof Eye; run: () => void; danger?: boolean }[] = [];
    if (node.kind === "folder") list.push({ label: "Open", icon: Eye, run: () => open(node) });
    else if (previewKind(node.name)) list.push({ label: "Preview", icon: Eye, run: () => setModal({ kind: "preview", node }) });
    list.push({ label: node.kind === "folder" ? "Download zip" : "Download", icon: Download, run: () => void download(node) });
    if (!node.read_only) {
      list.push({ label: "Rename", icon: Pencil, run: () => setModal({ kind: "rename", node }) });
      list.push({ label: "Move to…", icon: FolderInput, run: () => setModal({ kind: "move", nodes: [node] }) });
    }
    if (!node.read_only && !node.share_id) list.push({ label: "Share…", icon: Share2, run: () => setModal({ kind: "share", node }) });
    if (node.kind === "file") list.push({ label: "Revisions", icon: History, run: () => setModal({ kind: "revisions", node }) });
    if (!node.read_only) list.push({ label: node.share_id ? "Leave share" : "Delete", icon: Trash2, run: () => void toTrash(node), danger: true });
    return list;
  }

  return (
    <section class="files" aria-labelledby="folder-title">
      <div class="files-head">
        <Breadcrumbs chain={chain} rootId={rootId} onDropNode={moveTo} />
        <h1 id="folder-title" class="visually-hidden">
          {folder && folder.id !== rootId ? folder.name : "Files"}
        </h1>
        <div class="toolbar" role="toolbar" aria-label="Folder actions">
          {folder && !readOnly && (
            <>
              <UploadButton folder={folder} />
              <button type="button" onClick={() => setModal({ kind: "new-folder" })}>
                <FolderPlus size={16} aria-hidden="true" /> New folder
              </button>
            </>
          )}
          <label class="search">
            <Search size={16} aria-hidden="true" />
            <span class="visually-hidden">Filter this folder</span>
            <input
              type="search"
              placeholder="Filter this folder"
              value={query}
              onInput={(event) => setQuery(event.currentTarget.value)}
              onKeyDown={(event) => {
                if (event.key === "ArrowDown" || event.key === "Enter") {
                  event.preventDefault();
                  if (shown.length && !active) setActiveId(shown[0].id);
                  gridRef.current?.focus();
                }
              }}
            />
          </label>
        </div>
      </div>
      {chosen.length > 1 && (
        <div class="selection-bar" role="toolbar" aria-label={`Actions for ${chosen.length} selected items`}>
          <span class="selection-name" aria-live="polite">
            {chosen.length} selected
          </span>
          <button type="button" aria-label="Download zip" title="Download the selection as one zip" onClick={() => void downloadMany(chosen)}>
            <Download size={16} aria-hidden="true" />
            <span class="label">Download zip</span>
          </button>
          {chosen.some((node) => !node.read_only) && (
            <>
              <button
                type="button"
                aria-label="Move to…"
                title="Move to…"
                onClick={() => setModal({ kind: "move", nodes: chosen.filter((node) => !node.read_only) })}
              >
                <FolderInput size={16} aria-hidden="true" />
                <span class="label">Move to…</span>
              </button>
              <button type="button" class="danger" aria-label="Delete" title="Delete" onClick={() => void trashMany(chosen)}>
                <Trash2 size={16} aria-hidden="true" />
                <span class="label">Delete</span>
              </button>
            </>
          )}
          <button
            type="button"
            aria-label="Clear selection"
            title="Clear the selection"
            onClick={() => setSelection(active ? only(active.id) : NONE)}
          >
            <X size={16} aria-hidden="true" />
            <span class="label">Clear selection</span>
          </button>
        </div>
      )}
      {chosen.length <= 1 && !active && (
        <div class="selection-bar">
          <span class="muted small">Select an item for its actions. Double-click or Enter opens it.</span>
        </div>
      )}
      {chosen.length <= 1 && active && (
        <div class="selection-bar" role="toolbar" aria-label={`Actions for ${active.name}`}>
          <span class="selection-name">{active.name}</span>
          {actions.map((action) => {
            const Icon = action.icon;
            return (
              <button
                key={action.label}
                type="button"
                class={action.danger ? "danger" : ""}
                aria-label={action.label}
                title={action.label}
                onClick={action.run}
              >
                <Icon size={16} aria-hidden="true" />
                <span class="label">{action.label}</span>
              </button>
            );
          })}
        </div>
      )}
      {error && (
        <p class="error banner" role="alert">
          {error}{" "}
          <a href="/files" onClick={linkHandler("/files")}>
            Back to Files
          </a>
        </p>
      )}
      <FileList
        gridRef={gridRef}
        items={shown}
        total={items?.length ?? 0}
        loading={items === null}
        filtered={query.trim() !== ""}
        sort={sort}
        activeId={activeId}
        selected={selection.ids}
        menuFor={menuFor}
        label={folder && folder.id !== rootId ? folder.name : "Files"}
        onSort={changeSort}
        onActivate={activate}
        onOpen={open}
        onKeyDown={onKeyDown}
        onMenu={setMenuFor}
        actionsFor={itemActions}
        onDropNode={moveTo}
        onDropFiles={(target, data) => {
          const into = target ?? folder;
          if (into && !into.read_only) dropUpload(into, data);
        }}
      />
      {modal?.kind === "new-folder" && folder && (
        <NameDialog
          title="New folder"
          label="Folder name"
          initial=""
          confirm="Create"
          onClose={() => setModal(null)}
          onSubmit={async (name) => {
            const made = await tree.createFolder(folder.id, name);
            setModal(null);
            await load();
            activate(made.id);
          }}
        />
      )}
      {modal?.kind === "rename" && (
        <NameDialog
          title={`Rename ${modal.node.kind}`}
          label="New name"
          initial={modal.node.name}
          confirm="Rename"
          onClose={() => setModal(null)}
          onSubmit={async (name) => {
            await tree.rename(modal.node.id, name);
            setModal(null);
            await load();
          }}
        />
      )}
      {modal?.kind === "move" && (
        <MoveDialog
          nodes={modal.nodes}
          rootId={rootId}
          startId={folderId}
          onClose={() => setModal(null)}
          onMove={async (target) => {
            await moveMany(modal.nodes, target);
            setModal(null);
          }}
        />
      )}
      {modal?.kind === "revisions" && (
        <RevisionsDialog node={modal.node} onClose={() => setModal(null)} onRestored={() => void load()} />
      )}
      {modal?.kind === "preview" && (
        <PreviewDialog node={modal.node} onClose={() => setModal(null)} onDownload={() => void download(modal.node)} />
      )}
      {modal?.kind === "share" && (
        <Dialog title={`Share “${modal.node.name}”`} onClose={() => setModal(null)} wide>
          <ShareDialog node={modal.node} onClose={() => setModal(null)} />
        </Dialog>
      )}
    </section>
  );
}

function Breadcrumbs({
  chain,
  rootId,
  onDropNode,
}: {
  chain: Node[];
  rootId: NodeId;
  onDropNode: (node: Node, parentId: NodeId) => void;
}) {
  return (
    <nav class="crumbs" aria-label="Folder path">
      <ol>
        {chain.map((node, index) => {
          const last = index === chain.length - 1;
          const path = folderPath(node.id === rootId ? null : node.id);
          return (
            <li key={node.id}>
              {index > 0 && <ChevronRight size={14} aria-hidden="true" class="crumb-sep" />}
              <a
                href={path}
                aria-current={last ? "page" : undefined}
                onClick={linkHandler(path)}
                {...dropTarget(node, onDropNode)}
              >
                {node.id === rootId ? "Files" : node.name}
              </a>
            </li>
          );
        })}
      </ol>
    </nav>
  );
}

/** Drag-over/drop handlers that move a dragged item into `folder`. */
function dropTarget(folder: Node, onDropNode: (node: Node, parentId: NodeId) => void) {
  return {
    onDragOver: (event: DragEvent) => {
      if (!event.dataTransfer?.types.includes(NODE_TYPE) || folder.read_only) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      (event.currentTarget as HTMLElement).classList.add("drop-target");
    },
    onDragLeave: (event: DragEvent) => (event.currentTarget as HTMLElement).classList.remove("drop-target"),
    onDrop: (event: DragEvent) => {
      (event.currentTarget as HTMLElement).classList.remove("drop-target");
      const raw = event.dataTransfer?.getData(NODE_TYPE);
      if (!raw) return;
      event.preventDefault();
      event.stopPropagation();
      try {
        onDropNode(JSON.parse(raw) as Node, folder.id);
      } catch {
        // Not ours.
      }
    },
  };
}

interface ListProps {
  gridRef: { current: HTMLDivElement | null };
  items: readonly Node[];
  total: number;
  loading: boolean;
  filtered: boolean;
  sort: { key: SortKey; order: SortOrder };
  activeId: NodeId | null;
  selected: ReadonlySet<NodeId>;
  menuFor: NodeId | null;
  label: string;
  onSort: (key: SortKey) => void;
  onActivate: (id: NodeId, modifiers?: { toggle?: boolean; extend?: boolean }) => void;
  onOpen: (node: Node) => void;
  onKeyDown: (event: KeyboardEvent) => void;
  onMenu: (id: NodeId | null) => void;
  actionsFor: (node: Node) => { label: string; icon: typeof Eye; run: () => void; danger?: boolean }[];
  onDropNode: (node: Node, parentId: NodeId) => void;
  onDropFiles: (target: Node | null, data: DataTransfer) => void;
}

function FileList(props: ListProps) {
  const { gridRef, items, activeId } = props;
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const [dragOver, setDragOver] = useState(false);
  const frame = useRef(0);

  useLayoutEffect(() => {
    const grid = gridRef.current;
    if (!grid) return;
    setViewport(grid.clientHeight);
    const observer = new ResizeObserver(() => setViewport(grid.clientHeight));
    observer.observe(grid);
    return () => observer.disconnect();
  }, []);

  const activeIndex = activeId ? items.findIndex((node) => node.id === activeId) : -1;

  // Keep the active row in view (and so in the DOM).
  useLayoutEffect(() => {
    const grid = gridRef.current;
    if (!grid || activeIndex < 0) return;
    const body = grid.scrollTop;
    const target = scrollToReveal(activeIndex, Math.max(0, body), viewport - HEADER_HEIGHT, ROW_HEIGHT);
    if (target !== null) {
      grid.scrollTop = target;
      setScrollTop(target);
    }
  }, [activeIndex]);

  const range = windowRange(scrollTop, viewport - HEADER_HEIGHT, ROW_HEIGHT, items.length);
  const rows: Node[] = items.slice(range.start, range.end);
  const activeRendered = activeIndex >= range.start && activeIndex < range.end;

  const sortHeader = (key: SortKey, text: string, className: string) => {
    const current = props.sort.key === key;
    return (
      <div
        role="columnheader"
        class={`cell ${className}`}
        aria-sort={current ? (props.sort.order === "asc" ? "ascending" : "descending") : "none"}
      >
        <button type="button" class="sort" tabIndex={-1} onClick={() => props.onSort(key)}>
          {text}
          {current &&
            (props.sort.order === "asc" ? (
              <ArrowUp size={14} aria-hidden="true" />
            ) : (
              <ArrowDown size={14} aria-hidden="true" />
            ))}
        </button>
      </div>
    );
  };

  return (
    <div
      ref={gridRef}
      class={dragOver ? "grid drag-over" : "grid"}
      role="grid"
      aria-label={`${props.label}: ${items.length} item${items.length === 1 ? "" : "s"}`}
      aria-rowcount={items.length + 1}
      aria-colcount={4}
      aria-busy={props.loading}
      aria-activedescendant={activeRendered && activeId ? `row-${activeId}` : undefined}
      tabIndex={0}
      onKeyDown={props.onKeyDown}
      onScroll={(event) => {
        const top = (event.currentTarget as HTMLDivElement).scrollTop;
        cancelAnimationFrame(frame.current);
        frame.current = requestAnimationFrame(() => setScrollTop(top));
      }}
      onDragOver={(event) => {
        if (!event.dataTransfer?.types.includes("Files")) return;
        event.preventDefault();
        setDragOver(true);
      }}
      onDragLeave={(event) => {
        if (event.target === gridRef.current) setDragOver(false);
      }}
      onDrop={(event) => {
        setDragOver(false);
        if (!event.dataTransfer?.types.includes("Files")) return;
        event.preventDefault();
        props.onDropFiles(null, event.dataTransfer);
      }}
    >
      <div role="row" class="row head" aria-rowindex={1}>
        {sortHeader("name", "Name", "name")}
        {sortHeader("size", "Size", "size")}
        {sortHeader("modified", "Modified", "modified")}
        <div role="columnheader" class="cell actions">
          <span class="visually-hidden">Actions</span>
        </div>
      </div>
      <div class="rows" role="rowgroup" style={{ height: `${items.length * ROW_HEIGHT}px` }}>
        {rows.map((node, offset) => {
          const index = range.start + offset;
          return (
            <Row
              key={node.id}
              node={node}
              index={index}
              active={node.id === activeId}
              selected={props.selected.has(node.id)}
              menuOpen={props.menuFor === node.id}
              props={props}
            />
          );
        })}
      </div>
      {!props.loading && items.length === 0 && (
        <div class="empty-state">
          {props.filtered && props.total > 0 ? "Nothing here matches the filter." : "This folder is empty."}
        </div>
      )}
    </div>
  );
}

function Row({
  node,
  index,
  active,
  selected,
  menuOpen,
  props,
}: {
  node: Node;
  index: number;
  active: boolean;
  selected: boolean;
  menuOpen: boolean;
  props: ListProps;
}) {
  const folder = node.kind === "folder";
  const drop = folder ? dropTarget(node, props.onDropNode) : {};
  return (
    <div
      id={`row-${node.id}`}
      role="row"
      class={`row item${active ? " active" : ""}${selected ? " selected" : ""}${menuOpen ? " menu-open" : ""}`}
      aria-rowindex={index + 2}
      aria-selected={selected}
      data-name={node.name}
      style={{ transform: `translateY(${index * ROW_HEIGHT}px)` }}
      draggable={!node.read_only}
      onDragStart={(event) => {
        event.dataTransfer?.setData(NODE_TYPE, JSON.stringify(node));
        if (event.dataTransfer) event.dataTransfer.effectAllowed = "move";
      }}
      onMouseDown={(event) => {
        // Shift + click selects a run, not the text on the way.
        if (event.shiftKey) event.preventDefault();
      }}
      onClick={(event) => {
        // Focus first: focusing the list with nothing active activates its first row.
        props.gridRef.current?.focus({ preventScroll: true });
        props.onActivate(node.id, { toggle: event.ctrlKey || event.metaKey, extend: event.shiftKey });
      }}
      onDblClick={() => props.onOpen(node)}
      {...drop}
      onDragOverCapture={(event) => {
        if (folder && event.dataTransfer?.types.includes("Files") && !node.read_only) {
          event.preventDefault();
          event.stopPropagation();
          (event.currentTarget as HTMLElement).classList.add("drop-target");
        }
      }}
      onDropCapture={(event) => {
        if (folder && event.dataTransfer?.types.includes("Files") && !node.read_only) {
          event.preventDefault();
          event.stopPropagation();
          (event.currentTarget as HTMLElement).classList.remove("drop-target");
          props.onDropFiles(node, event.dataTransfer);
        }
      }}
    >
      <div role="gridcell" class="cell name">
        <span class={`file-icon ${folder ? "is-folder" : ""}`}>
          <FileIcon name={node.name} folder={folder} />
        </span>
        <span class="name-text">
          {folder ? (
            <a
              href={folderPath(node.id)}
              tabIndex={-1}
              onClick={(event) => {
                event.stopPropagation();
                linkHandler(folderPath(node.id))(event);
              }}
            >
              {node.name}
            </a>
          ) : (
            node.name
          )}
          <span class="meta-narrow muted small">
            {folder ? "Folder" : formatBytes(node.size)} · {timeAgo(node.modified)}
          </span>
        </span>
        {node.share_id && <span class="badge">Shared</span>}
        {node.read_only && <span class="badge">Read-only</span>}
      </div>
      <div role="gridcell" class="cell size muted">
        {folder ? "—" : formatBytes(node.size)}
      </div>
      <div role="gridcell" class="cell modified muted" title={formatDateTime(node.modified)}>
        {timeAgo(node.modified)}
      </div>
      <div role="gridcell" class="cell actions">
        <button
          type="button"
          class="icon"
          tabIndex={-1}
          aria-label={`Actions for ${node.name}`}
          aria-haspopup="menu"
          aria-expanded={menuOpen}
          onClick={(event) => {
            event.stopPropagation();
            if (!selected) props.onActivate(node.id);
            props.onMenu(menuOpen ? null : node.id);
          }}
        >
          <MoreVertical size={18} aria-hidden="true" />
        </button>
        {menuOpen && <RowMenu node={node} props={props} />}
      </div>
    </div>
  );
}

function RowMenu({ node, props }: { node: Node; props: ListProps }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    ref.current?.querySelector<HTMLElement>("[role=menuitem]")?.focus();
    const close = (event: MouseEvent) => {
      if (!ref.current?.contains(event.target as globalThis.Node)) props.onMenu(null);
    };
    document.addEventListener("mousedown", close);
    return () => document.removeEventListener("mousedown", close);
  }, []);
  const actions = props.actionsFor(node);
  return (
    <div
      ref={ref}
      class="menu"
      role="menu"
      aria-label={`Actions for ${node.name}`}
      onKeyDown={(event) => {
        const items = [...(ref.current?.querySelectorAll<HTMLElement>("[role=menuitem]") ?? [])];
        const at = items.indexOf(document.activeElement as HTMLElement);
        if (event.key === "Escape") {
          props.onMenu(null);
          props.gridRef.current?.focus();
        } else if (event.key === "ArrowDown") items[(at + 1) % items.length]?.focus();
        else if (event.key === "ArrowUp") items[(at - 1 + items.length) % items.length]?.focus();
        else return;
        event.preventDefault();
        event.stopPropagation();
      }}
    >
      {actions.map((action) => {
        const Icon = action.icon;
        return (
          <button
            key={action.label}
            type="button"
            role="menuitem"
            class={action.danger ? "danger" : ""}
            onClick={(event) => {
              event.stopPropagation();
              props.onMenu(null);
              action.run();
            }}
          >
            <Icon size={16} aria-hidden="true" /> {action.label}
          </button>
        );
      })}
    </div>
  );
}

