// `ftune export --to gguf`: the file read back with @huggingface/gguf (an independent parser) against
// the GGUF spec and llama.cpp's conventions: metadata keys and types, tensor names, ggml-order shapes,
// types, values within each type's precision (Q8_0 within its block bound), llama's q/k permutation
// (checked through RoPE: llama.cpp's interleaved rotation of the permuted weights gives the same
// attention scores as transformers' rotate_half on the originals), and the tokenizer metadata.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { gguf, GGUFValueType } from '@huggingface/gguf';
import { parseModelConfig, readModelConfig, ropeInverseFrequencies, type ModelConfig } from '../../src/core/modelConfig';
import { toFloat32 } from '../../src/core/safetensors';
import { initBackend } from '../../src/engine/backend';
import { runExport } from '../../src/export';
import { writeGguf, u32, str, strArray, i32Array, f32 as f32Value, bool } from '../../src/export/gguf/format';
import { dequantizeQ8_0, quantizeQ8_0 } from '../../src/export/gguf/quant';
import { detectPreTokenizer } from '../../src/export/gguf/vocab';
import { LLAMA, makeQwen3Folder, makeRandomAdapter, QWEN2, referenceFusedWeights, tempDir } from '../helpers/exportFixtures';

let root: string;
let QWEN3: string;
let QWEN3_ADAPTER: string;

before(async () => {
  await initBackend('wasm');
  root = tempDir('gguf');
  QWEN3 = makeQwen3Folder(path.join(root, 'tiny-qwen3'));
  QWEN3_ADAPTER = await makeRandomAdapter(QWEN3, path.join(root, 'qwen3-adapter'));
});

after(() => fs.rmSync(root, { recursive: true, force: true }));

// ggml_type ids from the spec.
const GGML = { F32: 0, F16: 1, Q8_0: 8 } as const;
type TypeName = keyof typeof GGML;

interface Parsed {
  metadata: Record<string, { value: unknown; type: GGUFValueType; subType?: GGUFValueType }>;
  tensors: Map<string, { shape: number[]; dtype: number; offset: number }>;
  dataOffset: number;
  bytes: Buffer;
}

async function readBack(file: string): Promise<Parsed> {
  const r = await gguf(file, { allowLocalFile: true, typedMetadata: true });
  const tensors = new Map(r.tensorInfos.map((t) => [t.name, { shape: t.shape.map(Number), dtype: Number(t.dtype), offset: Number(t.offset) }]));
  return { metadata: r.typedMetadata as Parsed['metadata'], tensors, dataOffset: Number(r.tensorDataOffset), bytes: fs.readFileSync(file) };
}

function tensorBytes(p: Parsed, name: string): Buffer {
  const t = p.tensors.get(name)!;
  const n = t.shape.reduce((a, b) => a * b, 1);
  const size = t.dtype === GGML.F32 ? 4 * n : t.dtype === GGML.F16 ? 2 * n : (n / 32) * 34;
  const start = p.dataOffset + t.offset;
  assert.equal(start % 32, 0, `${name} data is not 32-byte aligned`);
  return p.bytes.subarray(start, start + size);
}

/** Expected tensors, written from llama.cpp's naming (gguf-py tensor_mapping) independently of the exporter. */
function expectedTensors(c: ModelConfig): Map<string, { hf: string; shape: number[]; matrix: boolean }> {
  const m = new Map<string, { hf: string; shape: number[]; matrix: boolean }>();
  const hd = c.head_dim;
  // GGUF dims are ggml order: the contiguous (input) dimension first.
  m.set('token_embd.weight', { hf: 'model.embed_tokens.weight', shape: [c.hidden_size, c.vocab_size], matrix: true });
  m.set('output_norm.weight', { hf: 'model.norm.weight', shape: [c.hidden_size], matrix: false });
  if (!c.tie_word_embeddings) m.set('output.weight', { hf: 'lm_head.weight', shape: [c.hidden_size, c.vocab_size], matrix: true });
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const hf = `model.layers.${i}`;
    const b = `blk.${i}`;
    m.set(`${b}.attn_norm.weight`, { hf: `${hf}.input_layernorm.weight`, shape: [c.hidden_size], matrix: false });
    m.set(`${b}.ffn_norm.weight`, { hf: `${hf}.post_attention_layernorm.weight`, shape: [c.hidden_size], matrix: false });
    m.set(`${b}.attn_q.weight`, { hf: `${hf}.self_attn.q_proj.weight`, shape: [c.hidden_size, c.num_attention_heads * hd], matrix: true });
    m.set(`${b}.attn_k.weight`, { hf: `${hf}.self_attn.k_proj.weight`, shape: [c.hidden_size, c.num_key_value_heads * hd], matrix: true });
    m.set(`${b}.attn_v.weight`, { hf: `${hf}.self_attn.v_proj.weight`, shape: [c.hidden_size, c.num_key_value_heads * hd], matrix: true });
    m.set(`${b}.attn_output.weight`, { hf: `${hf}.self_attn.o_proj.weight`, shape: [c.num_attention_heads * hd, c.hidden_size], matrix: true });
    m.set(`${b}.ffn_gate.weight`, { hf: `${hf}.mlp.gate_proj.weight`, shape: [c.hidden_size, c.intermediate_size], matrix: true });
    m.set(`${b}.ffn_up.weight`, { hf: `${hf}.mlp.up_proj.weight`, shape: [c.hidden_size, c.intermediate_size], matrix: true });
    m.set(`${b}.ffn_down.weight`, { hf: `${hf}.mlp.down_proj.weight`, shape: [c.intermediate_size, c.hidden_size], matrix: true });
    if (c.qkv_bias) {
      m.set(`${b}.attn_q.bias`, { hf: `${hf}.self_attn.q_proj.bias`, shape: [c.num_attention_heads * hd], matrix: false });
      m.set(`${b}.attn_k.bias`, { hf: `${hf}.self_attn.k_proj.bias`, shape: [c.num_key_value_heads * hd], matrix: false });
      m.set(`${b}.attn_v.bias`, { hf: `${hf}.self_attn.v_proj.bias`, shape: [c.num_key_value_heads * hd], matrix: false });
    }
    if (c.qk_norm) {
      m.set(`${b}.attn_q_norm.weight`, { hf: `${hf}.self_attn.q_norm.weight`, shape: [hd], matrix: false });
      m.set(`${b}.attn_k_norm.weight`, { hf: `${hf}.self_attn.k_norm.weight`, shape: [hd], matrix: false });
    }
  }
  return m;
}

/** The spec's llama permute, written as numpy does it: reshape(n_head, 2, rows/n_head/2, cols).swapaxes(1, 2). */
function numpyPermute(data: Float32Array, rows: number, cols: number, nHead: number): Float32Array {
  const half = rows / nHead / 2;
  const out = new Float32Array(data.length);
  let k = 0;
  for (let h = 0; h < nHead; h++) for (let j = 0; j < half; j++) for (let s = 0; s < 2; s++) {
    const src = (h * 2 + s) * half + j; // element [h, s, j] of the reshaped source
    out.set(data.subarray(src * cols, (src + 1) * cols), k * cols);
    k++;
  }
  return out;
}

function decode(bytes: Buffer, dtype: number): Float32Array {
  if (dtype === GGML.F32) return toFloat32(bytes, 'F32');
  if (dtype === GGML.F16) return toFloat32(bytes, 'F16');
  return dequantizeQ8_0(bytes).values;
}

/** |got − want| within what the storage type can hold. */
function assertWithinPrecision(got: Float32Array, want: Float32Array, dtype: number, bytes: Buffer, what: string): void {
  assert.equal(got.length, want.length, what);
  if (dtype === GGML.Q8_0) {
    const { scales } = dequantizeQ8_0(bytes);
    for (let b = 0; b < scales.length; b++) {
      let amax = 0;
      for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(want[b * 32 + i]));
      const d = amax / 127;
      // the stored scale is d rounded to f16
      assert.ok(Math.abs(scales[b] - d) <= d * 2 ** -11 + 1e-12, `${what}: block ${b} scale ${scales[b]} vs ${d}`);
      // rounding to the nearest step (d/2) plus the f16 rounding of the scale over |q| <= 127
      const bound = d / 2 + 127 * Math.abs(scales[b] - d) + 1e-6;
      for (let i = 0; i < 32; i++) {
        const k = b * 32 + i;
        assert.ok(Math.abs(got[k] - want[k]) <= bound, `${what}[${k}]: ${got[k]} vs ${want[k]} (Q8_0 bound ${bound})`);
      }
    }
    return;
  }
  const rel = dtype === GGML.F16 ? 2 ** -11 : 1e-6;
  for (let k = 0; k < want.length; k++) {
    const tol = rel * Math.abs(want[k]) + (dtype === GGML.F16 ? 2 ** -24 : 1e-7);
    assert.ok(Math.abs(got[k] - want[k]) <= tol, `${what}[${k}]: ${got[k]} vs ${want[k]}`);
  }
}

const CASES = [
  { name: 'qwen2', arch: 'qwen2', model: () => QWEN2, adapter: () => path.join(QWEN2, 'cases', 'gen_adapter'), types: ['F32', 'Q8_0'] as TypeName[] },
  { name: 'llama', arch: 'llama', model: () => LLAMA, adapter: () => path.join(LLAMA, 'cases', 'gen_adapter'), types: ['F16', 'Q8_0'] as TypeName[] },
  { name: 'qwen3', arch: 'qwen3', model: () => QWEN3, adapter: () => QWEN3_ADAPTER, types: ['F32', 'F16', 'Q8_0'] as TypeName[] },
];

describe('GGUF export read back with @huggingface/gguf', () => {
  for (const c of CASES) {
    for (const type of c.types) {
      test(`${c.name} ${type}: header, metadata, tensors and values`, async () => {
        const out = path.join(root, `${c.name}-${type}`);
        const template = '{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}';
        const run = path.join(root, `run-${c.name}-${type}`);
        fs.mkdirSync(run, { recursive: true });
        fs.writeFileSync(path.join(run, 'chat_template.jinja'), template);
        fs.writeFileSync(path.join(run, 'run_config.json'), JSON.stringify({ model: c.model() }));
        const result = await runExport({ to: 'gguf', model: c.model(), adapter: c.adapter(), run, out, type: type.toLowerCase() as 'f32' | 'f16' | 'q8_0', backend: 'wasm' });
        const file = path.join(out, `model-${type.toLowerCase()}.gguf`);
        assert.deepEqual(result.files, [path.basename(file), 'Modelfile']);
        const raw = fs.readFileSync(file);
        assert.equal(raw.subarray(0, 4).toString('latin1'), 'GGUF');
        assert.equal(raw.readUInt32LE(4), 3, 'GGUF version 3');

        const p = await readBack(file);
        const config = readModelConfig(c.model());
        const md = p.metadata;
        const a = c.arch;
        const expectKey = (key: string, type: GGUFValueType, value: unknown) => {
          assert.ok(md[key], `missing metadata ${key}`);
          assert.equal(md[key].type, type, `${key} type`);
          assert.deepEqual(md[key].value, value, key);
        };
        expectKey('general.architecture', GGUFValueType.STRING, a);
        expectKey('general.alignment', GGUFValueType.UINT32, 32);
        expectKey('general.file_type', GGUFValueType.UINT32, { F32: 0, F16: 1, Q8_0: 7 }[type]);
        expectKey('general.quantization_version', GGUFValueType.UINT32, 2);
        expectKey(`${a}.context_length`, GGUFValueType.UINT32, config.max_position_embeddings);
        expectKey(`${a}.embedding_length`, GGUFValueType.UINT32, config.hidden_size);
        expectKey(`${a}.block_count`, GGUFValueType.UINT32, config.num_hidden_layers);
        expectKey(`${a}.feed_forward_length`, GGUFValueType.UINT32, config.intermediate_size);
        expectKey(`${a}.attention.head_count`, GGUFValueType.UINT32, config.num_attention_heads);
        expectKey(`${a}.attention.head_count_kv`, GGUFValueType.UINT32, config.num_key_value_heads);
        expectKey(`${a}.attention.layer_norm_rms_epsilon`, GGUFValueType.FLOAT32, Math.fround(config.rms_norm_eps));
        expectKey(`${a}.rope.freq_base`, GGUFValueType.FLOAT32, Math.fround(config.rope_theta));
        expectKey(`${a}.rope.dimension_count`, GGUFValueType.UINT32, config.head_dim);
        expectKey(`${a}.attention.key_length`, GGUFValueType.UINT32, config.head_dim);
        expectKey(`${a}.attention.value_length`, GGUFValueType.UINT32, config.head_dim);
        if (c.name === 'qwen3') assert.equal(md['qwen3.attention.key_length'].value, 32, 'qwen3 head_dim differs from hidden/heads');

        // Tokenizer metadata against tokenizer.json / tokenizer_config.json.
        const tj = JSON.parse(fs.readFileSync(path.join(c.model(), 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number>; merges: string[] } };
        expectKey('tokenizer.ggml.model', GGUFValueType.STRING, 'gpt2');
        expectKey('tokenizer.ggml.pre', GGUFValueType.STRING, 'gpt-2');
        assert.equal(md['tokenizer.ggml.tokens'].type, GGUFValueType.ARRAY);
        assert.equal(md['tokenizer.ggml.tokens'].subType, GGUFValueType.STRING);
        const tokens = md['tokenizer.ggml.tokens'].value as string[];
        assert.equal(tokens.length, config.vocab_size);
        for (const [text, id] of Object.entries(tj.model.vocab)) assert.equal(tokens[id], text);
        assert.equal(tokens[511], '<|im_end|>');
        assert.equal(md['tokenizer.ggml.token_type'].subType, GGUFValueType.INT32);
        const types = md['tokenizer.ggml.token_type'].value as number[];
        assert.deepEqual([types[509], types[510], types[511]], [3, 3, 3], 'special tokens are CONTROL');
        assert.equal(types[tj.model.vocab['Ġt']], 1, 'ordinary tokens are NORMAL');
        assert.deepEqual(md['tokenizer.ggml.merges'].value, tj.model.merges);
        expectKey('tokenizer.ggml.eos_token_id', GGUFValueType.UINT32, 511);
        expectKey('tokenizer.ggml.padding_token_id', GGUFValueType.UINT32, 509);
        assert.equal(md['tokenizer.ggml.bos_token_id'], undefined, 'the fixtures have no bos token');
        expectKey('tokenizer.ggml.add_bos_token', GGUFValueType.BOOL, false);
        expectKey('tokenizer.chat_template', GGUFValueType.STRING, template);

        // Tensor names, shapes and types.
        const expected = expectedTensors(config);
        assert.deepEqual([...p.tensors.keys()].sort(), [...expected.keys()].sort());
        const fused = referenceFusedWeights(c.model(), c.adapter());
        for (const [name, e] of expected) {
          const t = p.tensors.get(name)!;
          assert.deepEqual(t.shape, e.shape, `${name} shape`);
          assert.equal(t.offset % 32, 0, `${name} offset alignment`);
          // Norms and biases stay F32; Q8_0 falls back to F16 for rows that are not whole blocks.
          const rowLength = e.shape[0];
          const want = !e.matrix ? GGML.F32 : type === 'Q8_0' && rowLength % 32 !== 0 ? GGML.F16 : GGML[type];
          assert.equal(t.dtype, want, `${name} type`);
          let ref = fused.get(e.hf)!.data;
          if (a === 'llama' && /attn_[qk]\.weight$/.test(name)) {
            const heads = name.includes('attn_q') ? config.num_attention_heads : config.num_key_value_heads;
            ref = numpyPermute(ref, e.shape[1], e.shape[0], heads);
          }
          const bytes = tensorBytes(p, name);
          assertWithinPrecision(decode(bytes, t.dtype), ref, t.dtype, bytes, name);
        }
        if (c.name === 'qwen3' && type === 'Q8_0') {
          assert.equal(p.tensors.get('blk.0.ffn_down.weight')!.dtype, GGML.F16, 'rows of 80 cannot be Q8_0 blocks');
          assert.match(result.warnings.join('\n'), /written as F16: blk\.0\.ffn_down\.weight/);
        }
      });
    }
  }

  test('llama q/k permutation: llama.cpp\'s interleaved RoPE on the GGUF weights gives transformers\' attention scores', async () => {
    const out = path.join(root, 'llama-rope');
    await runExport({ to: 'gguf', model: LLAMA, out, type: 'f32', backend: 'wasm' });
    const p = await readBack(path.join(out, 'model-f32.gguf'));
    const config = readModelConfig(LLAMA);
    const hf = referenceFusedWeights(LLAMA);
    const D = config.hidden_size, hd = config.head_dim, H = config.num_attention_heads;
    const inv = ropeInverseFrequencies(config);
    const x = Float32Array.from({ length: D }, (_, i) => Math.sin(i * 1.7) + 0.3);
    const y = Float32Array.from({ length: D }, (_, i) => Math.cos(i * 0.9) - 0.2);
    const project = (w: Float32Array, v: Float32Array, rows: number) => Float64Array.from({ length: rows }, (_, r) => {
      let s = 0;
      for (let i = 0; i < D; i++) s += w[r * D + i] * v[i];
      return s;
    });
    // transformers: rotate halves (j, j + hd/2); llama.cpp's LLAMA rope: rotate neighbours (2j, 2j+1)
    const ropeHalves = (v: Float64Array, pos: number) => {
      const o = Float64Array.from(v);
      for (let h = 0; h < H; h++) for (let j = 0; j < hd / 2; j++) {
        const a = v[h * hd + j], b = v[h * hd + j + hd / 2], t = pos * inv[j];
        o[h * hd + j] = a * Math.cos(t) - b * Math.sin(t);
        o[h * hd + j + hd / 2] = b * Math.cos(t) + a * Math.sin(t);
      }
      return o;
    };
    const ropePairs = (v: Float64Array, pos: number) => {
      const o = Float64Array.from(v);
      for (let h = 0; h < H; h++) for (let j = 0; j < hd / 2; j++) {
        const a = v[h * hd + 2 * j], b = v[h * hd + 2 * j + 1], t = pos * inv[j];
        o[h * hd + 2 * j] = a * Math.cos(t) - b * Math.sin(t);
        o[h * hd + 2 * j + 1] = b * Math.cos(t) + a * Math.sin(t);
      }
      return o;
    };
    const scores = (q: Float64Array, k: Float64Array) => Array.from({ length: H }, (_, h) => {
      let s = 0;
      for (let d = 0; d < hd; d++) s += q[h * hd + d] * k[h * hd + d];
      return s;
    });
    const gq = decode(tensorBytes(p, 'blk.1.attn_q.weight'), GGML.F32);
    const gk = decode(tensorBytes(p, 'blk.1.attn_k.weight'), GGML.F32);
    const hq = hf.get('model.layers.1.self_attn.q_proj.weight')!.data;
    const hk = hf.get('model.layers.1.self_attn.k_proj.weight')!.data;
    for (const [pq, pk] of [[5, 2], [17, 3], [40, 40]]) {
      const want = scores(ropeHalves(project(hq, x, H * hd), pq), ropeHalves(project(hk, y, H * hd), pk));
      const got = scores(ropePairs(project(gq, x, H * hd), pq), ropePairs(project(gk, y, H * hd), pk));
      for (let h = 0; h < H; h++) assert.ok(Math.abs(got[h] - want[h]) <= 1e-4 * (1 + Math.abs(want[h])), `head ${h} at positions ${pq}/${pk}: ${got[h]} vs ${want[h]}`);
      if (pq === pk) continue; // no relative rotation: any pairing gives the same scores
      // Without the permutation the pairs would not line up: the scores must differ.
      const unpermuted = scores(ropePairs(project(hq, x, H * hd), pq), ropePairs(project(hk, y, H * hd), pk));
      assert.ok(unpermuted.some((s, h) => Math.abs(s - want[h]) > 1e-3), 'the check is sensitive to the permutation');
    }
  });
});

describe('GGUF writer and Q8_0', () => {
  test('Q8_0 round trip: scale = max|x|/127 as f16, values within half a step', () => {
    const data = Float32Array.from({ length: 96 }, (_, i) => Math.sin(i * 0.37) * (i < 32 ? 3 : i < 64 ? 0.01 : 0));
    const bytes = quantizeQ8_0(data);
    assert.equal(bytes.length, 3 * 34);
    const { values, scales } = dequantizeQ8_0(bytes);
    assert.equal(scales[2], 0, 'an all-zero block has scale 0');
    for (let b = 0; b < 3; b++) {
      let amax = 0;
      for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(data[b * 32 + i]));
      // the largest value maps to ±127
      const qmax = Math.max(...Array.from({ length: 32 }, (_, i) => Math.abs(bytes.readInt8(b * 34 + 2 + i))));
      if (amax > 0) assert.equal(qmax, 127);
      // half a step, plus the f16 rounding of the scale over |q| <= 127
      const d = amax / 127;
      const bound = 0.5 * d + 127 * Math.abs(scales[b] - d) + 1e-9;
      for (let i = 0; i < 32; i++) assert.ok(Math.abs(values[b * 32 + i] - data[b * 32 + i]) <= bound, `block ${b} value ${i}`);
    }
    assert.throws(() => quantizeQ8_0(new Float32Array(33)), /whole number/);
  });

  test('writer: alignment padding, every value type, ggml dimension order; rejects bad keys', async () => {
    const file = path.join(root, 'small.gguf');
    const data = Float32Array.from({ length: 6 }, (_, i) => i);
    await writeGguf(file, [
      ['general.architecture', str('llama')],
      ['test.count', u32(7)],
      ['test.ratio', f32Value(0.5)],
      ['test.flag', bool(true)],
      ['test.words', strArray(['a', 'ü'])],
      ['test.ints', i32Array([-1, 2])],
    ], [
      { name: 'a.weight', shape: [2, 3], type: 'F32', data: () => data },
      { name: 'b.weight', shape: [3], type: 'F16', data: () => Float32Array.from([1, 2, 3]) },
    ]);
    const p = await readBack(file);
    assert.equal(p.metadata['test.count'].value, 7);
    assert.equal(p.metadata['test.ratio'].value, 0.5);
    assert.equal(p.metadata['test.flag'].value, true);
    assert.deepEqual(p.metadata['test.words'].value, ['a', 'ü']);
    assert.deepEqual(p.metadata['test.ints'].value, [-1, 2]);
    assert.deepEqual(p.tensors.get('a.weight')!.shape, [3, 2], 'row-major [2, 3] is ggml ne = [3, 2]');
    assert.equal(p.tensors.get('b.weight')!.offset, 32, 'the second tensor starts at the next 32-byte boundary');
    assert.equal(p.dataOffset % 32, 0);
    assert.deepEqual(Array.from(decode(tensorBytes(p, 'a.weight'), GGML.F32)), Array.from(data));
    assert.deepEqual(Array.from(decode(tensorBytes(p, 'b.weight'), GGML.F16)), [1, 2, 3]);
    await assert.rejects(writeGguf(file, [['Bad Key', u32(1)]], []), /invalid GGUF metadata key/);
    await assert.rejects(writeGguf(file, [['a.b', u32(1)], ['a.b', u32(2)]], []), /duplicate/);
  });

  test('pre-tokenizer names from tokenizer.json', () => {
    const qwenRegex = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
    const llamaRegex = qwenRegex.replace(String.raw`\p{N}|`, String.raw`\p{N}{1,3}|`);
    const seq = (regex: string) => ({ type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: regex } }, { type: 'ByteLevel', use_regex: false }] });
    assert.equal(detectPreTokenizer(seq(qwenRegex)), 'qwen2');
    assert.equal(detectPreTokenizer(seq(llamaRegex)), 'llama-bpe');
    assert.equal(detectPreTokenizer({ type: 'ByteLevel', use_regex: true }), 'gpt-2');
    assert.equal(detectPreTokenizer({ type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, { type: 'ByteLevel', use_regex: true }] }), 'smollm');
    assert.equal(detectPreTokenizer(seq('\\w+')), undefined);
  });

  test('a model config with llama3 rope scaling gets a rope_freqs tensor of per-frequency divisors', async () => {
    const dir = path.join(root, 'llama3-rope');
    fs.mkdirSync(dir);
    for (const f of ['model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) fs.copyFileSync(path.join(LLAMA, f), path.join(dir, f));
    const raw = JSON.parse(fs.readFileSync(path.join(LLAMA, 'config.json'), 'utf8')) as Record<string, unknown>;
    const scaling = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 };
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...raw, rope_scaling: scaling }));
    const out = path.join(root, 'llama3-rope-out');
    await runExport({ to: 'gguf', model: dir, out, type: 'f32', backend: 'wasm' });
    const p = await readBack(path.join(out, 'model-f32.gguf'));
    const config = parseModelConfig({ ...raw, rope_scaling: scaling });
    const factors = decode(tensorBytes(p, 'rope_freqs.weight'), GGML.F32);
    const hd = config.head_dim;
    assert.equal(factors.length, hd / 2);
    // convert_hf_to_gguf: 1 for short wavelengths, factor for long ones, smooth in between
    for (let i = 0; i < hd / 2; i++) {
      const freq = 1 / config.rope_theta ** ((2 * i) / hd);
      const wavelen = (2 * Math.PI) / freq;
      const lowWl = 64 / 1, highWl = 64 / 4;
      const want = wavelen < highWl ? 1 : wavelen > lowWl ? 8 : 1 / ((1 - (64 / wavelen - 1) / 3) / 8 + (64 / wavelen - 1) / 3);
      assert.ok(Math.abs(factors[i] - want) <= 1e-5 * want, `factor ${i}: ${factors[i]} vs ${want}`);
    }
    assert.ok(factors.some((f) => f === 1) && factors.some((f) => Math.abs(f - 8) < 1e-5), 'the test covers both ends');
  });
});
