/// <reference types="vitest/config" />
// Vite builds the console into dist/ (served by accounts-local at / and by CloudFront in AWS);
// Vitest runs the component tests in jsdom. `npm run dev` proxies /api to a running
// accounts-local so the dev server is the same origin as the API, as in production.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: { "/api": process.env.API_URL ?? "http://127.0.0.1:3000" },
  },
  build: {
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: false,
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
  },
});
