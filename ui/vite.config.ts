import { resolve } from "node:path";
import { defineConfig } from "vitest/config";

// `vite build` makes the app's UI (dist/, embedded by the shell). With INKAN_UI_MOCK=1 it
// makes the mocked-IPC page for the screenshot tests instead (dist-mock/), never shipped.
const mock = process.env.INKAN_UI_MOCK === "1";

export default defineConfig({
  clearScreen: false,
  build: {
    target: "es2022",
    outDir: mock ? "dist-mock" : "dist",
    emptyOutDir: true,
    rollupOptions: { input: mock ? resolve(__dirname, "mock.html") : resolve(__dirname, "index.html") },
  },
  test: {
    environment: "happy-dom",
    include: ["tests/**/*.test.ts"],
  },
});
