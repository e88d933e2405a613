import { defineConfig } from 'vite';

/**
 * The console is served by Keyhouse itself at /console/ (src/console.ts), from console/dist.
 * Everything is bundled: no CDN, no request to another origin, no inline script or style.
 */
export default defineConfig({
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Inlined assets would be data: URLs; everything stays a file the CSP's 'self' allows.
    assetsInlineLimit: 0,
    target: 'es2022',
    reportCompressedSize: false,
  },
});
