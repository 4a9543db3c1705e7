import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';
import { writeFileSync } from 'node:fs';

// dist/.gitkeep is committed so `go build` compiles the embed on a clone
// without a UI build; emptyOutDir deletes it, this puts it back.
const keepDist = {
  name: 'ifc-keep-dist',
  closeBundle() {
    writeFileSync(new URL('./dist/.gitkeep', import.meta.url), '');
  },
};

// The Go binary embeds dist/ (ui/embed.go) and serves it from the cloud API
// and from the edge agent. `npm run dev` proxies the API to a running
// all-in-one (make run) so the UI can be worked on with hot reload.
export default defineConfig({
  plugins: [react(), keepDist],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      output: {
        manualChunks(id: string) {
          if (id.includes('node_modules/echarts') || id.includes('node_modules/zrender')) return 'charts';
          if (id.includes('node_modules/@xyflow')) return 'canvas';
          return undefined;
        },
      },
    },
  },
  server: {
    // IFC_DEV_API: the cloud API to proxy to (default the all-in-one of `make run`).
    proxy: {
      '/api': { target: process.env.IFC_DEV_API ?? 'http://127.0.0.1:8080', ws: true },
      '/ui-config.json': process.env.IFC_DEV_API ?? 'http://127.0.0.1:8080',
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test-setup.ts'],
  },
});
