// `ftune doctor`: which backends load here, what each really computes on, and what to install for a
// faster one. Each backend is checked with a small matmul against a plain reference.
import * as os from 'os';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendName } from '../core/runConfig';
import { initBackend } from '../engine/backend';
import { parse } from './args';

export interface DoctorEntry {
  backend: Exclude<BackendName, 'auto'>;
  ok: boolean;
  device?: string;
  detail: string;
}

const ADVICE: Record<string, string> = {
  tensorflow:
    'for an NVIDIA GPU: npm install @tensorflow/tfjs-node-gpu (Linux x64 with an NVIDIA driver, CUDA 11.2 and cuDNN 8.1; ' +
    'without them it loads but computes on the CPU); for a multithreaded CPU backend: npm install @tensorflow/tfjs-node. ' +
    'Either must match @tensorflow/tfjs-core ' + tf.version_core,
  webgpu: 'npm install webgpu (Dawn; any GPU with Vulkan, Metal or D3D12 drivers; on Linux without a GPU, scripts/setup-webgpu.sh installs Mesa lavapipe for testing)',
  wasm: 'bundled: should always work',
  cpu: 'bundled: should always work',
};

export async function diagnose(): Promise<DoctorEntry[]> {
  const entries: DoctorEntry[] = [];
  for (const backend of ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const) {
    try {
      const info = await initBackend(backend);
      const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
      const product = await tf.matMul(a, a).data();
      const ok = [7, 10, 15, 22].every((v, i) => Math.abs(product[i] - v) < 1e-4);
      let detail = ok ? 'matmul check passed' : 'matmul check gave wrong numbers';
      if (backend === 'wasm') detail += '; FTUNE_WASM_THREADS=N (1-8) sets its threads (default: one per physical core from 4 logical cores on)';
      entries.push({ backend, ok, device: info.device, detail });
    } catch (err) {
      // initBackend wraps the reason as "no TensorFlow.js backend could start (NAME: reason)".
      const reason = (err as Error).message.split('\n')[0].replace(new RegExp(`^no TensorFlow\\.js backend could start \\(${backend}: (.*)\\)$`), '$1');
      entries.push({ backend, ok: false, detail: `${reason} — to enable: ${ADVICE[backend]}` });
    }
  }
  return entries;
}

export async function doctorCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { json: { type: 'boolean' } }, 'usage: ftune doctor [--json]');
  const entries = await diagnose();
  const memory = { total_bytes: os.totalmem(), free_bytes: os.freemem(), cpus: os.cpus().length };
  if (values.json === true) {
    process.stdout.write(JSON.stringify({ backends: entries, memory }) + '\n');
  } else {
    for (const e of entries) process.stdout.write(`${e.ok ? '✓' : '✗'} ${e.backend.padEnd(10)} ${e.device ?? ''}  ${e.detail}\n`);
    process.stdout.write(`memory: ${(memory.free_bytes / 2 ** 30).toFixed(1)} GiB free of ${(memory.total_bytes / 2 ** 30).toFixed(1)} GiB, ${memory.cpus} CPU cores\n`);
    const best = entries.find((e) => e.ok && e.backend !== 'webgpu'); // auto never picks webgpu on its own
    process.stdout.write(best ? `--backend auto will use: ${best.backend}\n` : 'no backend works\n');
  }
  return entries.some((e) => e.ok) ? 0 : 1;
}
