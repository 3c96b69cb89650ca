// What a drop or a picker hands over, as files with their paths under the
// folder they were dropped on: folders are walked (webkitGetAsEntry, which
// every current browser has), files keep their place ("Photos/2024/a.jpg"),
// and every folder met is named too, so that empty ones are made as well.
export interface Picked {
  file: File;
  /** Relative path under the drop target, "/"-separated, ending with the file's name. */
  path: string;
}

export interface Dropped {
  files: Picked[];
  /** Every folder of the dropped trees ("Photos", "Photos/2024"), empty ones included. */
  folders: string[];
}

/** The files and folders of a DataTransfer (a drop). Reads what it must during the event, then walks folders. */
export function fromDataTransfer(data: DataTransfer): Promise<Dropped> {
  const entries: FileSystemEntry[] = [];
  const loose: Picked[] = [];
  const items = Array.from(data.items ?? []).filter((item) => item.kind === "file");
  // Everything must be taken from the items before the event returns: they are emptied afterwards.
  for (const item of items) {
    const file = item.getAsFile();
    // A file that knows its place (a folder picker's, or a drop made by a script) needs no walk.
    if (file && file.webkitRelativePath) {
      loose.push({ file, path: file.webkitRelativePath });
      continue;
    }
    const entry = typeof item.webkitGetAsEntry === "function" ? item.webkitGetAsEntry() : null;
    if (entry) entries.push(entry);
    else if (file) loose.push({ file, path: file.name });
  }
  if (items.length === 0) {
    for (const file of Array.from(data.files ?? [])) loose.push({ file, path: file.webkitRelativePath || file.name });
  }
  return (async () => {
    const dropped: Dropped = { files: [...loose], folders: [] };
    for (const entry of entries) await walk(entry, dropped);
    return dropped;
  })();
}

/** The files of an <input type=file> (with or without webkitdirectory). */
export function fromFileList(list: FileList | null): Picked[] {
  return Array.from(list ?? []).map((file) => ({ file, path: file.webkitRelativePath || file.name }));
}

async function walk(entry: FileSystemEntry, found: Dropped): Promise<void> {
  const path = entry.fullPath.replace(/^\/+/, "") || entry.name;
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    found.files.push({ file, path });
    return;
  }
  if (!entry.isDirectory) return;
  found.folders.push(path);
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries answers in pieces (100 at a time in Chromium) until it answers none.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    for (const child of batch) await walk(child, found);
  }
}
