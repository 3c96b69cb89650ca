// Which kind of file a name is, and the icon for it (shared by both UIs).
import {
  File,
  FileArchive,
  FileAudio,
  FileCode,
  FileImage,
  FileSpreadsheet,
  FileText,
  FileVideo,
  Folder,
  Presentation,
} from "lucide-preact";

export type FileKind =
  | "folder"
  | "image"
  | "video"
  | "audio"
  | "pdf"
  | "text"
  | "code"
  | "archive"
  | "spreadsheet"
  | "presentation"
  | "document"
  | "other";

const BY_EXTENSION: Record<string, FileKind> = {};
function add(kind: FileKind, extensions: string) {
  for (const ext of extensions.split(" ")) BY_EXTENSION[ext] = kind;
}
add("image", "png jpg jpeg gif webp avif bmp svg ico heic heif tif tiff");
add("video", "mp4 webm mov mkv avi m4v ogv");
add("audio", "mp3 wav flac ogg oga m4a aac opus");
add("pdf", "pdf");
add("text", "txt md markdown log csv tsv ini cfg conf rst tex");
add(
  "code",
  "js mjs cjs ts tsx jsx json yaml yml toml xml html htm css scss rs go py rb java kt c h cpp hpp cs sh bash zsh sql swift php lua",
);
add("archive", "zip tar gz tgz bz2 xz 7z rar zst");
add("spreadsheet", "xls xlsx ods numbers");
add("presentation", "ppt pptx odp key");
add("document", "doc docx odt rtf pages epub");

/** The lower-case extension of a name ("" when none; ".bashrc" has none). */
export function extension(name: string): string {
  const dot = name.lastIndexOf(".");
  if (dot <= 0 || dot === name.length - 1) return "";
  return name.slice(dot + 1).toLowerCase();
}

export function fileKind(name: string, isFolder = false): FileKind {
  if (isFolder) return "folder";
  return BY_EXTENSION[extension(name)] ?? "other";
}

/** What the browser can show in place. */
export type PreviewKind = "image" | "video" | "audio" | "pdf" | "text" | null;

const PREVIEWABLE_IMAGES = new Set(["png", "jpg", "jpeg", "gif", "webp", "avif", "bmp", "ico", "svg"]);

export function previewKind(name: string): PreviewKind {
  const kind = fileKind(name);
  const ext = extension(name);
  if (kind === "image") return PREVIEWABLE_IMAGES.has(ext) ? "image" : null;
  if (kind === "video") return ["mp4", "webm", "ogv", "m4v", "mov"].includes(ext) ? "video" : null;
  if (kind === "audio") return "audio";
  if (kind === "pdf") return "pdf";
  if (kind === "text" || kind === "code") return "text";
  return null;
}

export const KIND_ICONS: Record<FileKind, typeof File> = {
  folder: Folder,
  image: FileImage,
  video: FileVideo,
  audio: FileAudio,
  pdf: FileText,
  text: FileText,
  code: FileCode,
  archive: FileArchive,
  spreadsheet: FileSpreadsheet,
  presentation: Presentation,
  document: FileText,
  other: File,
};

export function kindLabel(kind: FileKind): string {
  switch (kind) {
    case "pdf":
      return "PDF";
    case "other":
      return "File";
    default:
      return kind[0].toUpperCase() + kind.slice(1);
  }
}
