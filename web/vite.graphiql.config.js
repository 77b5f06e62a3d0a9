// Builds GraphiQL, served by likes on GET /graphql to a browser, into three
// files with fixed names (dist-graphiql/index.html, graphiql.js and
// graphiql.css), which the binary embeds at compile time. Its fonts and
// images are inlined, so the page needs nothing from any other origin.
// Like the conference page's build (vite.config.js): fixed names and no
// source maps keep the build byte-identical from one run to the next.
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'graphiql',
  // Where the binary serves the assets; `/assets/` is the page's.
  base: '/graphiql/',
  publicDir: false,
  build: {
    outDir: '../dist-graphiql',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
    cssCodeSplit: false,
    assetsInlineLimit: Number.MAX_SAFE_INTEGER,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    // React, GraphiQL and CodeMirror make one large file, on purpose.
    chunkSizeWarningLimit: 4096,
    rolldownOptions: {
      // React's "use client" marks server-component boundaries, which mean
      // nothing in a bundle that only ever runs in the browser.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
      output: {
        codeSplitting: false,
        entryFileNames: 'graphiql.js',
        assetFileNames: 'graphiql[extname]',
      },
    },
  },
});
