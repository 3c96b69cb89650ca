// Downloads and previews: a short-lived URL any GET can follow (no auth header),
// Range-capable; a folder downloads as a zip.
import { api } from "./http";
import type { DownloadUrl, NodeId, RevisionId } from "./types";

export function downloadUrl(
  nodeId: NodeId,
  disposition: "attachment" | "inline",
  revision?: RevisionId,
  children?: NodeId[],
): Promise<DownloadUrl> {
  const body: Record<string, string | number | NodeId[]> = { node_id: nodeId, disposition };
  if (revision) body.revision = revision;
  if (children?.length) body.children = children;
  return api<DownloadUrl>("POST", "/api/v1/download-urls", body);
}

/**
 * Starts the browser's own download of a file or folder (zip); with
 * `children`, a zip of only those children of the folder (a selection).
 */
export async function startDownload(nodeId: NodeId, revision?: RevisionId, children?: NodeId[]): Promise<void> {
  const { url } = await downloadUrl(nodeId, "attachment", revision, children);
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.rel = "noopener";
  anchor.download = "";
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
}
