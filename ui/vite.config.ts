import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// The app loads ui/dist from disk (tauri.conf.json frontendDist): no dev server.
export default defineConfig({
  plugins: [preact()],
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK 2.40+ (Debian 12) and WebView2 both run ES2021.
    target: "es2021",
    reportCompressedSize: false,
  },
});
