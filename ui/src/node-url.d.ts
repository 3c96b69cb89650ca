// vite.config.ts runs under Node and uses this one function; ui/ has no @types/node.
declare module "node:url" {
  export function fileURLToPath(url: string | URL): string;
}
