// Downloads and previews: a short-lived URL any GET can follow (no auth header),
// Range-capable; a folder downloads as a zip.
import { api } from "./http";
import type { DownloadUrl, NodeId, RevisionId } from "./types";

export function downloadUrl(
  nodeId: NodeId,
  disposition: "attachment" | "inline",
  revision?: RevisionId,
): Promise<DownloadUrl> {
  const body: Record<string, string | number> = { node_id: nodeId, disposition };
  if (revision) body.revision = revision;
  return api<DownloadUrl>("POST", "/api/v1/download-urls", body);
}

/** Starts the browser's own download of a file or folder (zip). */
export async function startDownload(nodeId: NodeId, revision?: RevisionId): Promise<void> {
  const { url } = await downloadUrl(nodeId, "attachment", revision);
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.rel = "noopener";
  anchor.download = "";
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
}
