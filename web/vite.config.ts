import preact from '@preact/preset-vite'
import { defineConfig } from 'vite'

export default defineConfig({
  plugins: [preact()],
  // Assets are named relative to the page's <base> (the gateway writes it: HOMELAB_BASE_PATH), so one build serves
  // at / and under a prefix.
  base: './',
  // The workspace packages are used from their TypeScript source (the browser validates the live stream with the
  // contract schemas).
  resolve: { conditions: ['source', 'module', 'browser', 'development|production'] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: false,
    rollupOptions: {
      // zod's sources place a few /* @__PURE__ */ hints where Rollup cannot use them; it drops them, harmlessly.
      onLog(level, log, handler) {
        if (log.code === 'INVALID_ANNOTATION' && /node_modules[\\/]zod[\\/]/.test(log.id ?? log.message))
          return
        handler(level, log)
      },
    },
  },
  server: { proxy: { '/api': 'http://localhost:8080', '/healthz': 'http://localhost:8080' } },
})
