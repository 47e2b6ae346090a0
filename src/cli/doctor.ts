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
  tensorflow: 'npm install @tensorflow/tfjs-node-gpu (needs CUDA 11.2 + cuDNN 8.1 on Linux/Windows; without them it runs on the CPU)',
  webgpu: 'npm install webgpu @tensorflow/tfjs-backend-webgpu (any GPU with Vulkan, Metal or D3D12 drivers)',
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
      entries.push({ backend, ok, device: info.device, detail: ok ? 'matmul check passed' : 'matmul check gave wrong numbers' });
    } catch (err) {
      entries.push({ backend, ok: false, detail: `${(err as Error).message.split('\n')[0]} — to enable: ${ADVICE[backend]}` });
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
