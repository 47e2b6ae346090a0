import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import {
  countLoraParameters, countParameters, estimateTraining, formatBytes, formatDuration, modelShapeFromConfig, totalSteps,
} from '../../src/core/estimate';

const TINY = path.resolve(__dirname, '..', '..', '..', '..', 'shared', 'models', 'tiny-gsm8k-base');

/** Parameter count straight from the safetensors header: the ground truth for countParameters. */
function safetensorsParameterCount(file: string): number {
  const buffer = fs.readFileSync(file);
  const headerLength = Number(buffer.readBigUInt64LE(0));
  const header = JSON.parse(buffer.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { shape?: number[] }>;
  let total = 0;
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__' || !entry.shape) continue;
    total += entry.shape.reduce((a, b) => a * b, 1);
  }
  return total;
}

test('countParameters matches the tiny model’s safetensors exactly', () => {
  const config = JSON.parse(fs.readFileSync(path.join(TINY, 'config.json'), 'utf8')) as Record<string, unknown>;
  const shape = modelShapeFromConfig(config);
  assert.equal(shape.attention_bias, true, 'qwen2 has q/k/v biases');
  assert.equal(countParameters(shape).total, safetensorsParameterCount(path.join(TINY, 'model.safetensors')));
});

test('countParameters matches the published size of Llama-2-7B (6.74B)', () => {
  const shape = modelShapeFromConfig({
    model_type: 'llama', vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32,
    num_attention_heads: 32, num_key_value_heads: 32, tie_word_embeddings: false,
  });
  assert.equal(countParameters(shape).total, 6_738_415_616);
  // LoRA r=8 on q_proj and v_proj: 32 layers × 2 × 8 × (4096 + 4096) = 4,194,304 (PEFT prints this number)
  assert.equal(countLoraParameters(shape, 8, ['q_proj', 'v_proj']), 4_194_304);
});

test('modelShapeFromConfig names the missing key', () => {
  assert.throws(() => modelShapeFromConfig({ vocab_size: 10 }), /hidden_size/);
});

test('estimate: LoRA needs less memory than full fine-tuning, longer sequences need more', () => {
  const shape = modelShapeFromConfig({ vocab_size: 32000, hidden_size: 2048, intermediate_size: 5632, num_hidden_layers: 22, num_attention_heads: 32, num_key_value_heads: 4 });
  const base = { shape, lora_r: 8, lora_targets: 'all-linear' as const, batch_size: 2, grad_accum: 4, max_length: 512, steps: 100, backend: 'webgpu' as const };
  const lora = estimateTraining({ ...base, full: false });
  const full = estimateTraining({ ...base, full: true });
  assert.ok(lora.trainable_parameters < full.trainable_parameters / 50);
  assert.ok(lora.total_bytes < full.total_bytes);
  assert.equal(full.optimizer_bytes, full.total_parameters * 4 * 3);
  assert.equal(lora.weights_bytes, lora.total_parameters * 4);
  const longer = estimateTraining({ ...base, full: false, max_length: 1024 });
  assert.ok(longer.activation_bytes > 2 * lora.activation_bytes * 0.99);
  assert.equal(lora.tokens_per_step, 2 * 4 * 512);
  assert.ok(full.flops_per_step > lora.flops_per_step);
  assert.equal(lora.total_seconds, lora.seconds_per_step * 100);
  // the time is compute plus a per-layer, per-micro-batch overhead
  assert.ok(Math.abs(lora.seconds_per_step - (lora.flops_per_step / 400e9 + 4 * 22 * 0.02)) < 1e-9);
  const cpu = estimateTraining({ ...base, full: false, backend: 'cpu' });
  assert.ok(cpu.seconds_per_step > lora.seconds_per_step, 'the plain-JS backend is slower than WebGPU');
});

test('estimate: a measured throughput replaces the backend guess', () => {
  const shape = modelShapeFromConfig({ vocab_size: 512, hidden_size: 128, intermediate_size: 384, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2 });
  const e = estimateTraining({ shape, full: false, lora_r: 8, lora_targets: 'all-linear', batch_size: 4, grad_accum: 1, max_length: 100, steps: 10, backend: 'cpu', measured_tokens_per_second: 200 });
  assert.equal(e.seconds_per_step, 2);
  assert.equal(e.total_seconds, 20);
  const shorter = estimateTraining({ shape, full: false, lora_r: 8, lora_targets: 'all-linear', batch_size: 4, grad_accum: 1, max_length: 100, steps: 10, backend: 'cpu', tokens_per_example: 50, measured_tokens_per_second: 200 });
  assert.equal(shorter.seconds_per_step, 1);
});

test('totalSteps: max_steps wins, otherwise epochs × ceil(examples / effective batch)', () => {
  assert.equal(totalSteps(30, { max_steps: 4, epochs: 3, batch_size: 2, grad_accum: 1 }), 4);
  assert.equal(totalSteps(30, { max_steps: 0, epochs: 2, batch_size: 4, grad_accum: 2 }), 8);
});

test('formatBytes / formatDuration', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KB');
  assert.equal(formatBytes(3 * 1024 ** 3), '3.0 GB');
  assert.equal(formatDuration(42), '42s');
  assert.equal(formatDuration(125), '2m 05s');
  assert.equal(formatDuration(3 * 3600 + 60 * 7), '3h 07m');
});

test('estimate: the wasm heap counts the allocator\'s overhead on top of the tensors; a GPU backend does not', () => {
  const shape = modelShapeFromConfig({ vocab_size: 151936, hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, torch_dtype: 'bfloat16' });
  const run = { shape, full: false, lora_r: 8, lora_targets: 'all-linear' as const, batch_size: 1, grad_accum: 1, max_length: 512, steps: 1, gradient_checkpointing: true };
  for (const backend of ['wasm', 'auto'] as const) {
    const e = estimateTraining({ ...run, backend });
    const tensors = e.weights_bytes + e.optimizer_bytes + e.activation_bytes;
    assert.ok(e.heap_overhead_bytes >= 0.06 * tensors && e.heap_overhead_bytes <= 0.1 * tensors, `${backend}: ${e.heap_overhead_bytes} of ${tensors}`);
    assert.equal(e.total_bytes, tensors + e.heap_overhead_bytes);
  }
  const gpu = estimateTraining({ ...run, backend: 'webgpu' });
  assert.equal(gpu.heap_overhead_bytes, 0);
  assert.equal(gpu.total_bytes, gpu.weights_bytes + gpu.optimizer_bytes + gpu.activation_bytes);
});
