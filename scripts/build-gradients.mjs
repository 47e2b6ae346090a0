// tfjs-core registers its gradients only from its ES-module build (dist/register_all_gradients.js,
// extensionless imports that plain Node cannot load). Bundle it once into a CommonJS file next to the
// compiled engine. It shares tfjs's global engine and gradient registry, so a separate copy is fine.
import { build } from 'esbuild';
import { fileURLToPath } from 'url';
import path from 'path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export async function buildGradients(outfile = path.join(root, 'out/src/engine/tfjs-gradients.js')) {
  await build({
    entryPoints: [path.join(root, 'node_modules/@tensorflow/tfjs-core/dist/register_all_gradients.js')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile,
    logLevel: 'warning',
  });
}
if (process.argv[1] === fileURLToPath(import.meta.url)) await buildGradients();
