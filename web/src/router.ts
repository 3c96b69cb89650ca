// History routing (the server answers index.html for any app path).
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { name: "files"; folder: number | null }
  | { name: "shared" }
  | { name: "links" }
  | { name: "trash" }
  | { name: "account" }
  | { name: "unknown"; path: string };

export function parseRoute(pathname: string): Route {
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { name: "files", folder: null };
  switch (parts[0]) {
    case "files":
      const id = Number(parts[1]);
      return { name: "files", folder: parts[1] && Number.isSafeInteger(id) ? id : null };
    case "shared":
      return { name: "shared" };
    case "links":
      return { name: "links" };
    case "trash":
      return { name: "trash" };
    case "account":
      return { name: "account" };
    default:
      return { name: "unknown", path: pathname };
  }
}

export function folderPath(folder: number | string | null): string {
  return folder !== null ? `/files/${folder}` : "/files";
}

const listeners = new Set<() => void>();
window.addEventListener("popstate", () => listeners.forEach((listener) => listener()));

export function navigate(path: string, replace = false) {
  if (path === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  listeners.forEach((listener) => listener());
}

export function useRoute(): Route {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const listener = () => setPath(location.pathname);
    listeners.add(listener);
    return () => listeners.delete(listener);
  }, []);
  return parseRoute(path);
}

/** An <a> that navigates without a reload (modifier clicks open new tabs as usual). */
export function linkHandler(path: string) {
  return (event: MouseEvent) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(path);
  };
}
