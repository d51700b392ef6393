/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The gateway serves the built files at / (AIWFE_STATIC_DIR) with an SPA fallback, so the
// app lives at the root. `npm run dev` proxies /api to a gateway on :8080
// (AIWFE_GATEWAY_URL overrides) so the UI can be developed against a real backend.
const gateway = process.env.AIWFE_GATEWAY_URL ?? "http://127.0.0.1:8080";
const outDir = process.env.AIWFE_UI_OUT_DIR ?? "../build/ui/dist";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir,
    emptyOutDir: true,
    sourcemap: false,
    assetsDir: "assets",
    target: "es2022",
  },
  server: {
    proxy: { "/api": { target: gateway, changeOrigin: true } },
  },
  test: {
    environment: "jsdom",
    globals: true,
    include: ["test/**/*.test.{ts,tsx}"],
    restoreMocks: true,
    setupFiles: ["./test/setup.ts"],
  },
});
