/// <reference types="vitest/config" />
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

const common = fileURLToPath(new URL("../ui-common", import.meta.url));
// `vite dev` proxies the server's routes to a drive-server (DRIVE_SERVER, default 127.0.0.1:8080).
const server = process.env.DRIVE_SERVER ?? "http://127.0.0.1:8080";
const proxied = ["/api", "/d", "/s", "/blobs", "/photos"];

export default defineConfig({
  plugins: [preact()],
  clearScreen: false,
  resolve: {
    alias: { "@common": common },
    // ui-common/ sits outside this package: its imports of preact must resolve to ours.
    dedupe: ["preact", "lucide-preact"],
  },
  server: {
    fs: { allow: [".", common] },
    proxy: Object.fromEntries(proxied.map((path) => [path, { target: server, changeOrigin: false }])),
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    reportCompressedSize: false,
    assetsDir: "assets",
  },
  test: {
    include: ["src/**/*.test.ts", "../ui-common/**/*.test.ts"],
    environment: "node",
  },
});
