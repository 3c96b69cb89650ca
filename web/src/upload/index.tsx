// The uploads' mount points in the shell: the toolbar's Upload control, the
// drop handler of the file list, and the uploads panel.
import { useEffect, useRef, useState } from "preact/hooks";
import { CircleAlert, Check, FolderUp, Pause, Play, RotateCcw, Upload as UploadIcon, X } from "lucide-preact";
import { ProgressBar } from "@common/components";
import { formatBytes, formatEta, formatSpeed } from "@common/format";
import { errorText, type Node } from "../api";
import { toast } from "../ui/toast";
import { fromDataTransfer, fromFileList, type Picked } from "./drop";
import { uploads, type Upload } from "./manager";
import "./upload.css";

export { uploads } from "./manager";
export type { Upload, UploadStatus } from "./manager";

function start(folder: Node, picked: Picked[], folders: string[] = []) {
  if (picked.length === 0 && folders.length === 0) return;
  uploads.add(folder.id, picked, folders).catch((error) => toast(errorText(error), true));
}

/** Toolbar slot of the Files view: "Upload files" and "Upload folder" for `folder`. */
export function UploadButton({ folder }: { folder: Node }) {
  const files = useRef<HTMLInputElement>(null);
  const tree = useRef<HTMLInputElement>(null);
  useEffect(() => {
    // webkitdirectory is not a JSX attribute Preact knows: set it on the element.
    tree.current?.setAttribute("webkitdirectory", "");
  }, []);
  const disabled = folder.read_only;
  const picked = (input: HTMLInputElement | null) => {
    if (!input) return;
    start(folder, fromFileList(input.files));
    input.value = "";
  };
  return (
    <span class="upload-button">
      <button type="button" class="primary" disabled={disabled} onClick={() => files.current?.click()}>
        <UploadIcon size={16} aria-hidden="true" /> Upload
      </button>
      <button type="button" disabled={disabled} onClick={() => tree.current?.click()}>
        <FolderUp size={16} aria-hidden="true" /> Upload folder
      </button>
      <input
        ref={files}
        class="visually-hidden upload-files-input"
        type="file"
        multiple
        tabIndex={-1}
        aria-label="Files to upload"
        onChange={(event) => picked(event.currentTarget)}
      />
      <input
        ref={tree}
        class="visually-hidden upload-folder-input"
        type="file"
        multiple
        tabIndex={-1}
        aria-label="A folder to upload"
        onChange={(event) => picked(event.currentTarget)}
      />
    </span>
  );
}

/** Files and folders dropped from the desktop onto the Files view (not internal moves). */
export function dropUpload(folder: Node, data: DataTransfer): void {
  if (folder.read_only) {
    toast("This folder is shared with you as a viewer: you cannot upload to it.", true);
    return;
  }
  fromDataTransfer(data)
    .then(({ files, folders }) => start(folder, files, folders))
    .catch((error) => toast(`The dropped files could not be read: ${error}`, true));
}

/** The same as dropUpload, for a file list's drop event. */
export function handleDrop(event: DragEvent, folder: Node) {
  if (!event.dataTransfer) return;
  event.preventDefault();
  dropUpload(folder, event.dataTransfer);
}

function useUploads(): Upload[] {
  const [list, setList] = useState(uploads.list());
  useEffect(() => uploads.subscribe(() => setList(uploads.list())), []);
  return list;
}

const LABELS: Record<Upload["status"], string> = {
  waiting: "Paused — drop the file again to resume",
  queued: "Waiting",
  hashing: "Preparing",
  uploading: "Uploading",
  committing: "Finishing",
  retrying: "Retrying",
  paused: "Paused",
  done: "Uploaded",
  failed: "Failed",
  cancelled: "Cancelled",
};

function percentOf(item: Upload) {
  if (item.status === "done") return 100;
  if (item.status === "hashing") return item.size ? (item.hashed / item.size) * 100 : 0;
  return item.size ? (item.uploaded / item.size) * 100 : 0;
}

function detail(item: Upload, now: number): string {
  const parts: string[] = [];
  switch (item.status) {
    case "hashing":
      parts.push(`Preparing ${Math.round(percentOf(item))}%`);
      break;
    case "uploading": {
      parts.push(`${Math.round(percentOf(item))}%`, `${formatBytes(item.uploaded)} of ${formatBytes(item.size)}`);
      if (item.speed > 0) parts.push(formatSpeed(item.speed));
      const eta = formatEta(item.eta);
      if (eta) parts.push(`${eta} left`);
      break;
    }
    case "retrying": {
      const seconds = Math.max(0, Math.ceil(((item.retryAt ?? now) - now) / 1000));
      parts.push(`Retrying in ${seconds} s`);
      if (item.error) parts.push(item.error);
      break;
    }
    case "paused":
    case "waiting":
      parts.push(LABELS[item.status], `${formatBytes(item.uploaded)} of ${formatBytes(item.size)}`);
      break;
    case "done":
      parts.push(`Uploaded · ${formatBytes(item.size)}`);
      break;
    case "failed":
      parts.push(item.error ?? "Failed");
      break;
    default:
      parts.push(LABELS[item.status], formatBytes(item.size));
  }
  return parts.join(" · ");
}

function Row({ item, now }: { item: Upload; now: number }) {
  const busy = ["queued", "hashing", "uploading", "committing", "retrying"].includes(item.status);
  return (
    <li class={`upload-row upload-${item.status}`} data-status={item.status} data-name={item.name}>
      <div class="upload-main">
        <div class="upload-name" title={item.path}>
          {item.status === "done" && <Check size={14} aria-hidden="true" class="ok" />}
          {item.status === "failed" && <CircleAlert size={14} aria-hidden="true" class="bad" />}
          <span>{item.path.includes("/") ? item.path.replace(/[^/]*$/, item.name) : item.name}</span>
        </div>
        <ProgressBar value={percentOf(item)} label={`${item.name}: ${LABELS[item.status]}`} />
        <div class="upload-detail muted small">{detail(item, now)}</div>
      </div>
      <div class="upload-actions">
        {busy && (
          <button type="button" class="icon" aria-label={`Pause ${item.name}`} onClick={() => uploads.pause(item.id)}>
            <Pause size={16} aria-hidden="true" />
          </button>
        )}
        {item.status === "paused" && (
          <button type="button" class="icon" aria-label={`Resume ${item.name}`} onClick={() => uploads.resume(item.id)}>
            <Play size={16} aria-hidden="true" />
          </button>
        )}
        {item.status === "failed" && (
          <button type="button" class="icon" aria-label={`Retry ${item.name}`} onClick={() => uploads.retry(item.id)}>
            <RotateCcw size={16} aria-hidden="true" />
          </button>
        )}
        {item.status === "waiting" ? (
          <button type="button" class="icon" aria-label={`Discard ${item.name}`} onClick={() => uploads.discard(item.id)}>
            <X size={16} aria-hidden="true" />
          </button>
        ) : (
          item.status !== "done" &&
          item.status !== "cancelled" && (
            <button type="button" class="icon" aria-label={`Cancel ${item.name}`} onClick={() => uploads.cancel(item.id)}>
              <X size={16} aria-hidden="true" />
            </button>
          )
        )}
      </div>
    </li>
  );
}

/** The uploads panel (bottom of the window): every upload of this page, and those waiting from before a reload. */
export function UploadsPanel() {
  const list = useUploads();
  const [open, setOpen] = useState(true);
  const [now, setNow] = useState(Date.now());
  const retrying = list.some((item) => item.status === "retrying");
  useEffect(() => {
    if (!retrying) return;
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, [retrying]);
  if (list.length === 0) return null;
  const active = list.filter((item) => !["done", "failed", "cancelled", "waiting", "paused"].includes(item.status));
  const done = list.filter((item) => item.status === "done").length;
  const title = active.length
    ? `Uploading ${active.length} ${active.length === 1 ? "file" : "files"}`
    : `${done} of ${list.length} uploaded`;
  return (
    <section class="uploads-panel" aria-label="Uploads">
      <header class="uploads-head">
        <h2>{title}</h2>
        <span class="uploads-tools">
          {list.some((item) => item.status === "done" || item.status === "cancelled") && (
            <button type="button" class="link" onClick={() => uploads.clearFinished()}>
              Clear finished
            </button>
          )}
          <button type="button" class="link" aria-expanded={open} onClick={() => setOpen(!open)}>
            {open ? "Hide" : "Show"}
          </button>
        </span>
      </header>
      {open && (
        <ul class="uploads-list">
          {list.map((item) => (
            <Row key={item.id} item={item} now={now} />
          ))}
        </ul>
      )}
    </section>
  );
}
