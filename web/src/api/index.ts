export { api, apiFetch, ApiError, errorText, session } from "./http";
export type { SignInState } from "./http";
export * from "./types";
export { tree, trash, ancestry } from "./tree";
export { downloadUrl, startDownload } from "./downloads";
export { onChanges, startChanges, stopChanges } from "./changes";
