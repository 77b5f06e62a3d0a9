// Builds the conference page into exactly three files with fixed names
// (dist/index.html, dist/assets/app.js, dist/assets/app.css), which the
// likes binary embeds at compile time. Fixed names and no source maps keep
// the build byte-identical from one run to the next.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  // Nothing is copied verbatim: every byte served comes from src/.
  publicDir: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
    cssCodeSplit: false,
    // Any asset is inlined (as a data: URI) instead of becoming a fourth file.
    assetsInlineLimit: Number.MAX_SAFE_INTEGER,
    // One chunk, so the preload polyfill would be dead weight.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    rolldownOptions: {
      output: {
        codeSplitting: false,
        entryFileNames: 'assets/app.js',
        assetFileNames: 'assets/app[extname]',
      },
    },
  },
  server: {
    // `npm run dev` serves the sources and forwards the API to a running
    // server (LIKES_URL, default http://127.0.0.1:8080). That server must
    // allow this origin: `likes serve --allowed-origins http://localhost:5173`.
    proxy: {
      '/graphql': {
        target: process.env.LIKES_URL || 'http://127.0.0.1:8080',
        ws: true,
      },
    },
  },
});
