// `npm run package [-- --target linux-x64]`: a platform-specific VSIX. Everything in it is
// platform-neutral (bundled JavaScript, wasm) except Dawn, the native WebGPU binary: the target
// (default: this machine) decides which one goes into dist/dawn/. Publish one VSIX per target; VS
// Code installs the one matching the user's platform.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyDawn, dawnTarget } from './build.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TARGETS = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64', 'win32-arm64'];

const at = process.argv.indexOf('--target');
const target = at > 0 ? process.argv[at + 1] : `${process.platform}-${process.arch}`;
if (!TARGETS.includes(target)) {
  console.error(`package: --target must be one of ${TARGETS.join(', ')} (got ${target})`);
  process.exit(1);
}
const [platform, arch] = target.split('-');
const dawn = copyDawn(path.join(repoRoot, 'dist'), dawnTarget(platform, arch));
if (!dawn) console.warn(`package: no Dawn binary for ${target} (is the optional 'webgpu' package installed?): the VSIX will have no WebGPU`);
const vsix = `finetune-studio-${target}.vsix`;
execFileSync(
  process.execPath,
  [path.join(repoRoot, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--target', target, '--no-dependencies', '--skip-license', '--allow-missing-repository', '--no-rewrite-relative-links', '-o', vsix],
  { cwd: repoRoot, stdio: 'inherit' },
);
// Leave dist/dawn as a plain build would (this machine's binary).
copyDawn(path.join(repoRoot, 'dist'));
console.log(`package: ${vsix}`);
