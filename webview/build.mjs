// Bundles the webviews (browser-side TypeScript + chart.js + the webview toolkit) with esbuild into
// media/build/{lossPanel,playground,maskPreview}.js, plus media/build/webview.css (and maskPreviewStyles.css). scripts/build.mjs calls buildWebviews(); running this file
// directly builds them too (`node webview/build.mjs`).

import * as esbuild from 'esbuild';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** @param {{ root?: string, minify?: boolean }} [options] */
export async function buildWebviews(options = {}) {
  const root = options.root ?? repoRoot;
  await esbuild.build({
    absWorkingDir: root,
    // the stylesheet is copied (minified) next to the scripts so localResourceRoots can stay media/build
    entryPoints: {
      lossPanel: 'webview/lossPanel.ts',
      playground: 'webview/playground.ts',
      maskPreview: 'webview/maskPreview.ts',
      webview: 'media/webview.css',
      maskPreviewStyles: 'media/maskPreview.css',
    },
    outdir: 'media/build',
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: options.minify ?? true,
    sourcemap: false,
    legalComments: 'eof',
    logLevel: 'warning',
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await buildWebviews();
}
