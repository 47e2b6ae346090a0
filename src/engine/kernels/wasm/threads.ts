// Multithreaded tfjs-backend-wasm in Node (XNNPACK's thread pool over worker_threads).
//
// WHY this exists: tfjs-backend-wasm 4.x ships a threaded SIMD binary but never uses it in Node —
// its WASM_HAS_MULTITHREAD_SUPPORT flag returns false there, and its loader hands Emscripten blob:
// URLs for the pthread worker and main script, which Node's worker_threads cannot load. Emscripten's
// own output does support Node workers, so this file loads the threaded module itself with real
// file paths and registers it as the 'wasm' backend; every wasm kernel then runs on it unchanged.
//
// Three details matter:
//  - the pthread worker script (shipped as a JS string) is written to a per-version folder in the OS
//    temp directory; the worker then evaluates Emscripten's main script, which must be the original
//    file (tfjs-backend-wasm-threaded-simd.js, next to the .wasm binaries or in node_modules): the
//    factory's own source (what tfjs puts in its Blob) is not self-contained once a bundler has
//    minified it (it calls bundle-level helpers);
//  - the C++ init caps the pool at floor(logical cores / 2) (it assumes 2 hyperthreads per core),
//    read once through os.cpus() while the module instantiates: `threads` is honoured by presenting
//    2·threads cores for that moment only;
//  - the pool's worker threads are unref'd, or Node would never exit;
//  - results do not depend on the thread count (XNNPACK splits output tiles, each computed whole).
import * as tf from '@tensorflow/tfjs-core';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

type ThreadedFactory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;

interface EmscriptenModule {
  cwrap(name: string, returnType: string | null, argTypes: string[]): (...args: number[]) => number;
  tfjs?: Record<string, unknown>;
  PThread?: { runningWorkers: { unref?(): void }[]; unusedWorkers: { unref?(): void }[] };
}

/** Upper bound of tfjs's C++ side (it preloads 8 pthread workers). */
export const MAX_WASM_THREADS = 8;

/**
 * Threads for the wasm backend: FTUNE_WASM_THREADS when set (1 = single-threaded binary), else one
 * per physical core as tfjs would count them (half the logical cores) on machines with at least 4
 * logical cores; 1 below that, where a second thread mostly competes with the main one.
 */
export function wasmThreadsWanted(env: NodeJS.ProcessEnv = process.env, logicalCores = os.availableParallelism?.() ?? os.cpus().length): number {
  const raw = env.FTUNE_WASM_THREADS;
  if (raw !== undefined && raw.trim() !== '') {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`FTUNE_WASM_THREADS must be a positive integer, got ${JSON.stringify(raw)}`);
    return Math.min(n, MAX_WASM_THREADS);
  }
  return logicalCores >= 4 ? Math.min(MAX_WASM_THREADS, Math.floor(logicalCores / 2)) : 1;
}

/**
 * Registers the threaded SIMD module as the 'wasm' backend with `threads` threads (call before
 * tf.setBackend('wasm')). `binaryDir` holds tfjs-backend-wasm-threaded-simd.wasm.
 */
export async function registerThreadedWasm(threads: number, binaryDir: string): Promise<void> {
  const binary = path.join(binaryDir, 'tfjs-backend-wasm-threaded-simd.wasm');
  if (!fs.existsSync(binary)) throw new Error(`${binary} not found`);
  const mainScript = threadedMainScript(binaryDir);
  const factory = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js') as ThreadedFactory;
  const { wasmWorkerContents } = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js') as { wasmWorkerContents: string };
  // The shipped string holds real newlines where the worker's source had "\n" escapes (tfjs undoes
  // this the same way before making its Blob).
  const scripts = writeOnce({ 'worker.js': wasmWorkerContents.replace(/\n/g, '\\n') });

  // The module object itself (what Emscripten's require("os") sees), not an import namespace.
  const nodeOs = require('os') as { cpus: () => os.CpuInfo[] };
  const realCpus = nodeOs.cpus;
  let module: EmscriptenModule;
  try {
    const cpu = realCpus()[0];
    nodeOs.cpus = () => Array.from({ length: 2 * threads }, () => cpu);
    module = await factory({
      locateFile: (file: string) => (file.endsWith('.worker.js') ? scripts['worker.js'] : file.endsWith('.wasm') ? binary : path.join(binaryDir, file)),
      mainScriptUrlOrBlob: mainScript,
    });
  } finally {
    nodeOs.cpus = realCpus;
  }
  // The same bridge tfjs's own init() builds.
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  wasm.setThreadsCount(threads);
  tf.removeBackend('wasm');
  const Backend = wasm.BackendWasm as unknown as new (m: EmscriptenModule) => tf.KernelBackend;
  tf.registerBackend('wasm', () => {
    const backend = new Backend(module); // starts the thread pool
    // Idle pool threads must not keep the process alive once the main program is done.
    for (const w of [...(module.PThread?.runningWorkers ?? []), ...(module.PThread?.unusedWorkers ?? [])]) w.unref?.();
    return backend;
  }, 2);
}

/** Emscripten's threaded main script: next to the binaries (a bundled CLI ships it there), else in node_modules. */
function threadedMainScript(binaryDir: string): string {
  const name = 'tfjs-backend-wasm-threaded-simd.js';
  if (fs.existsSync(path.join(binaryDir, name))) return path.join(binaryDir, name);
  try {
    return require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
  } catch {
    throw new Error(`${name} not found next to the wasm binaries in ${binaryDir} (a bundle must ship it there) nor in node_modules`);
  }
}

/** Writes the files (content-addressed, so concurrent processes agree) and returns their paths. */
function writeOnce<K extends string>(files: Record<K, string>): Record<K, string> {
  const hash = crypto.createHash('sha256');
  for (const name of Object.keys(files).sort()) hash.update(name).update('\0').update(files[name as K]).update('\0');
  const dir = path.join(os.tmpdir(), `ftune-wasm-threads-${tf.version_core}-${hash.digest('hex').slice(0, 16)}`);
  fs.mkdirSync(dir, { recursive: true });
  const out = {} as Record<K, string>;
  for (const name of Object.keys(files) as K[]) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) {
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, files[name]);
      fs.renameSync(tmp, file);
    }
    out[name] = file;
  }
  return out;
}
