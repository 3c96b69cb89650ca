import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// What the desktop UI shares with the web app (theme, formatting, small components).
const common = fileURLToPath(new URL("../ui-common", import.meta.url));

// The app loads ui/dist from disk (tauri.conf.json frontendDist): no dev server.
export default defineConfig({
  plugins: [preact()],
  clearScreen: false,
  resolve: {
    alias: { "@common": common },
    // ui-common/ sits outside this package: its imports of preact resolve to ours.
    dedupe: ["preact", "lucide-preact"],
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK 2.40+ (Debian 12) and WebView2 both run ES2021.
    target: "es2021",
    reportCompressedSize: false,
  },
});
