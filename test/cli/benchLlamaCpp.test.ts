// `ftune bench --llama-cpp TYPE`: the bench's shape written as GGUF and decoded by real llama.cpp
// (node-llama-cpp's prebuilt CPU binary) beside our decode, and the one error line when
// node-llama-cpp cannot be imported (hidden from a real CLI process by an ES-module resolve hook).
import { after, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import type { BenchResult } from '../../src/core/protocol';
import { initBackend } from '../../src/engine/backend';
import { randomModel, randomWeights, randomWeightValues, shapeConfig } from '../../src/engine/shapes';
import { CLI } from '../helpers/sharedFiles';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-bench-llamacpp-'));
after(() => fs.rmSync(TMP, { recursive: true, force: true }));

function ftune(args: string[], nodeOptions: string[] = []): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...nodeOptions, CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const TINY_BENCH = ['bench', '--shape', 'tiny', '--batch', '1', '--seq', '16', '--steps', '1', '--decode-tokens', '4', '--backend', 'wasm'];

describe('bench --llama-cpp', () => {
  test('q8_0: llama.cpp decodes the same shape with our threads, prompt and steps; both speeds in the JSON', () => {
    const r = ftune([...TINY_BENCH, '--llama-cpp', 'q8_0', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim()) as BenchResult;
    const l = out.llama_cpp;
    assert.ok(l, 'llama_cpp in the output');
    assert.equal(l.type, 'q8_0');
    assert.equal(l.threads, out.threads, 'the thread count of our wasm backend');
    assert.equal(l.prompt_tokens, 16);
    assert.equal(l.decode_tokens, 4);
    assert.ok(typeof l.release === 'string' && l.release.length > 0);
    for (const v of [l.decode_tokens_per_second, l.decode_cpu_seconds_per_token, out.decode_tokens_per_second, out.decode_cpu_seconds_per_token]) {
      assert.ok(Number.isFinite(v) && v > 0, String(v));
    }
    // Q8_0 is 34 bytes per 32 values (down_proj's 688-wide rows fall back to F16, 2 bytes per value):
    // well under F16's 2 bytes per parameter, and at least 34/32 of a byte each.
    assert.ok(l.gguf_bytes > (out.parameters * 34) / 32 && l.gguf_bytes < out.parameters * 1.6, `${l.gguf_bytes} bytes for ${out.parameters} parameters`);
  });

  test('the GGUF is drawn from the same random weights as the bench model', async () => {
    await initBackend('wasm');
    const config = shapeConfig('tiny');
    const model = randomModel(config, 0);
    try {
      const weights = randomWeights(config, 0);
      assert.deepEqual(weights.map((w) => w.name).sort(), [...model.weights.keys()].sort());
      for (const w of weights) {
        const t = model.weights.get(w.name)!;
        assert.deepEqual(w.shape, t.shape, w.name);
        assert.deepEqual(randomWeightValues(w), t.dataSync(), w.name);
      }
    } finally {
      model.dispose();
    }
  });

  test('without node-llama-cpp: one error line saying how to install it, before any benchmarking', () => {
    // A resolve hook that answers as Node does for a package that is not installed.
    const hooks = path.join(TMP, 'hide-node-llama-cpp.mjs');
    fs.writeFileSync(hooks, [
      'export async function resolve(specifier, context, next) {',
      "  if (specifier === 'node-llama-cpp') throw Object.assign(new Error(\"Cannot find package 'node-llama-cpp'\"), { code: 'ERR_MODULE_NOT_FOUND' });",
      '  return next(specifier, context);',
      '}',
    ].join('\n'));
    const register = path.join(TMP, 'register.mjs');
    fs.writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
    const r = ftune([...TINY_BENCH, '--llama-cpp', 'q8_0'], ['--import', pathToFileURL(register).href]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '', 'nothing benchmarked');
    assert.equal(r.stderr, "ftune: error: --llama-cpp needs node-llama-cpp, which could not be loaded (Cannot find package 'node-llama-cpp'); install it where ftune runs: npm install node-llama-cpp\n");
  });

  test('an unknown GGUF type is a usage error', () => {
    const r = ftune([...TINY_BENCH, '--llama-cpp', 'q4_k']);
    assert.equal(r.code, 1);
    assert.match(r.stderr.split('\n')[0], /^ftune: error: --llama-cpp must be one of f16, q8_0, f32, got "q4_k"$/);
  });
});
