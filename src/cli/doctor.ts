// `ftune doctor`: which backends load here, what each really computes on, and what to install for a
// faster one. Each backend is checked with a small matmul against a plain reference.
import * as os from 'os';
import * as tf from '@tensorflow/tfjs-core';
import { doctorReportLines } from '../core/doctorReport';
import type { DoctorEntry, DoctorReport, WebGpuModelCheck as ModelCheck } from '../core/protocol';
import { autoChoice, initBackend } from '../engine/backend';
import { runGpuSelfCheck } from '../engine/gpuSelfCheck';
import { DecoderModel } from '../engine/model';
import { webGpuLimits } from '../engine/webgpu';
import { parse } from './args';
import { printJson } from './jsonOutput';

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
      if (backend === 'webgpu' && !info.gpu) detail += '; a software adapter: --backend auto does not use it (slower than wasm)';
      if (backend === 'tensorflow' && !info.gpu) detail += '; computes on the CPU';
      entries.push({ backend, ok, device: info.device, gpu: info.gpu, detail });
    } catch (err) {
      // initBackend wraps the reason as "no TensorFlow.js backend could start (NAME: reason)".
      const reason = (err as Error).message.split('\n')[0].replace(new RegExp(`^no TensorFlow\\.js backend could start \\(${backend}: (.*)\\)$`), '$1');
      entries.push({ backend, ok: false, detail: `${reason} — to enable: ${ADVICE[backend]}` });
    }
  }
  return entries;
}

export async function doctorReport(): Promise<DoctorReport> {
  const backends = await diagnose();
  const auto = autoChoice(backends)?.backend;
  const memory = { total_bytes: os.totalmem(), free_bytes: os.freemem(), cpus: os.cpus().length };
  const webgpu = backends.find((e) => e.backend === 'webgpu');
  const forWebGpu = webgpu?.ok
    ? 'install the GPU vendor\'s driver with Vulkan (Linux, Windows) or use macOS (Metal): WebGPU sees only a software adapter'
    : ADVICE.webgpu;
  const advice = backends.some((e) => e.ok && e.gpu)
    ? undefined
    : `no GPU backend works here, training runs on the CPU. For any GPU: ${forWebGpu}. For an NVIDIA GPU with CUDA 11.2: npm install @tensorflow/tfjs-node-gpu`;
  return { backends, auto, memory, advice };
}

export async function doctorCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { json: { type: 'boolean' }, model: { type: 'string' } }, 'usage: ftune doctor [--json] [--model DIR]');
  const report = await doctorReport();
  const modelDir = typeof values.model === 'string' ? values.model : undefined;
  const check = modelDir && report.backends.some((e) => e.backend === 'webgpu' && e.ok) ? await checkModelOnWebGpu(modelDir) : undefined;
  if (values.json === true) {
    printJson('doctor', check ? { ...report, webgpu_model_check: check } : report);
  } else {
    for (const line of doctorReportLines(report)) process.stdout.write(`${line}\n`);
    if (modelDir && !check) process.stdout.write(`model check: skipped, no webgpu adapter here (${modelDir} runs on the CPU backends)\n`);
    if (check) for (const line of modelCheckLines(modelDir!, check)) process.stdout.write(`${line}\n`);
  }
  if (check && !check.result.ok) return 1;
  return report.backends.some((e) => e.ok) ? 0 : 1;
}

/** The GPU self-check that precedes every run, on `dir`, with the limits of the device it ran on. */
async function checkModelOnWebGpu(dir: string): Promise<ModelCheck> {
  const info = await initBackend('webgpu');
  const model = DecoderModel.load(dir);
  try {
    const result = await runGpuSelfCheck(model);
    return { device: info.device, limits: webGpuLimits()!, result };
  } finally {
    model.dispose();
  }
}

function modelCheckLines(dir: string, check: ModelCheck): string[] {
  const r = check.result;
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  return [
    `webgpu device limits (${check.device}):`,
    ...Object.entries(check.limits).map(([name, value]) => `  ${name}: ${/Size$/.test(name) && value >= 2 ** 20 ? mib(value) : value}`),
    `model check on webgpu (${dir}): ${r.ok ? 'ok' : 'WRONG'} — logits of ${r.tokens} tokens through layers ${r.layers.join(' and ')} at ${r.headRows} head rows: ` +
      `max |GPU − CPU| ${r.maxDiff.toPrecision(3)} (largest logit ${r.scale.toPrecision(3)}, allowed ${r.tolerance.toPrecision(3)})` +
      (r.ok ? '' : '; use --backend wasm for this model'),
  ];
}
