// An independent reference of the gemma3_text and phi3 decoders for tests: plain float64 loops that
// follow ../shared/conformance/README.md's family notes word for word (no tfjs, no code shared with
// src/engine). Its own correctness is checked against the fixtures' golden logits, then it judges
// configurations the fixtures do not cover (sliding_window_pattern, soft-capping, longrope).
import type { ModelConfig } from '../../src/core/modelConfig';

export type Weights = Map<string, Float32Array>;

/** y[o] = Σ_i W[o, i]·x[i] for W [out, in] row-major. */
function matVec(W: Float32Array, x: Float64Array, out: number, offset = 0): Float64Array {
  const n = x.length;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = 0;
    const row = (offset + o) * n;
    for (let i = 0; i < n; i++) s += W[row + i] * x[i];
    y[o] = s;
  }
  return y;
}

function rmsNorm(x: Float64Array, w: Float32Array, eps: number, gemma: boolean): Float64Array {
  let ms = 0;
  for (const v of x) ms += v * v;
  const r = 1 / Math.sqrt(ms / x.length + eps);
  return x.map((v, i) => v * r * (gemma ? 1 + w[i] : w[i]));
}

const cap = (v: number, c: number | null) => (c === null ? v : Math.tanh(v / c) * c);
const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
const silu = (v: number) => v / (1 + Math.exp(-v));

/** Logits [T, V] of one sequence at positions 0..T-1. */
export function referenceLogits(c: ModelConfig, W: Weights, ids: number[]): Float64Array[] {
  const get = (n: string) => {
    const w = W.get(n);
    if (!w) throw new Error(`reference: missing ${n}`);
    return w;
  };
  const D = c.hidden_size, H = c.num_attention_heads, K = c.num_key_value_heads, hd = c.head_dim, I = c.intermediate_size;
  const T = ids.length, gemma = c.model_type === 'gemma3_text';
  const E = get('model.embed_tokens.weight');
  const scale = gemma ? Math.sqrt(D) : 1;
  let xs: Float64Array[] = ids.map((id) => Float64Array.from(E.subarray(id * D, (id + 1) * D), (v) => v * scale));
  const rd = Math.floor(hd * c.partial_rotary_factor), half = rd / 2;
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    const sliding = gemma ? c.layer_types[l] === 'sliding_attention' : true;
    const window = sliding ? c.sliding_window : null;
    // RoPE of this layer.
    const local = gemma && sliding;
    const base = local ? c.rope_local_base_freq : c.rope_theta;
    let ext: number[] = new Array(half).fill(1);
    let af = 1;
    const rs = c.rope_scaling;
    if (!local && rs.rope_type === 'longrope') {
      ext = T > rs.original_max_position_embeddings ? rs.long_factor : rs.short_factor;
      af = rs.attention_factor;
    }
    const linear = !local && rs.rope_type === 'linear' ? rs.factor : 1;
    const inv = Array.from({ length: half }, (_, j) => 1 / (ext[j] * base ** ((2 * j) / rd)) / linear);
    const rotate = (u: Float64Array, pos: number) => {
      const out = Float64Array.from(u);
      for (let j = 0; j < half; j++) {
        const cs = Math.cos(pos * inv[j]) * af, sn = Math.sin(pos * inv[j]) * af;
        out[j] = u[j] * cs - u[j + half] * sn;
        out[j + half] = u[j + half] * cs + u[j] * sn;
      }
      return out;
    };
    const qs: Float64Array[][] = [], ks: Float64Array[][] = [], vs: Float64Array[][] = [];
    for (let t = 0; t < T; t++) {
      const h = rmsNorm(xs[t], get(`${p}input_layernorm.weight`), c.rms_norm_eps, gemma);
      let q: Float64Array, k: Float64Array, v: Float64Array;
      if (c.fused_projections) {
        const qkv = get(`${p}self_attn.qkv_proj.weight`);
        q = matVec(qkv, h, H * hd);
        k = matVec(qkv, h, K * hd, H * hd);
        v = matVec(qkv, h, K * hd, (H + K) * hd);
      } else {
        q = matVec(get(`${p}self_attn.q_proj.weight`), h, H * hd);
        k = matVec(get(`${p}self_attn.k_proj.weight`), h, K * hd);
        v = matVec(get(`${p}self_attn.v_proj.weight`), h, K * hd);
      }
      const heads = (y: Float64Array, n: number, norm?: string) =>
        Array.from({ length: n }, (_, i) => {
          let u: Float64Array = y.slice(i * hd, (i + 1) * hd);
          if (norm) u = rmsNorm(u, get(norm), c.rms_norm_eps, true);
          return u;
        });
      qs.push(heads(q, H, gemma ? `${p}self_attn.q_norm.weight` : undefined).map((u) => rotate(u, t)));
      ks.push(heads(k, K, gemma ? `${p}self_attn.k_norm.weight` : undefined).map((u) => rotate(u, t)));
      vs.push(heads(v, K));
    }
    const scoreScale = 1 / Math.sqrt(c.query_pre_attn_scalar);
    const next: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const attn = new Float64Array(H * hd);
      for (let hh = 0; hh < H; hh++) {
        const kv = Math.floor(hh / (H / K));
        const seen: number[] = [];
        for (let s = 0; s <= t; s++) if (window === null || t - s < window) seen.push(s);
        const scores = seen.map((s) => {
          let d = 0;
          for (let j = 0; j < hd; j++) d += qs[t][hh][j] * ks[s][kv][j];
          return cap(d * scoreScale, c.attn_logit_softcapping);
        });
        const m = Math.max(...scores);
        const e = scores.map((x) => Math.exp(x - m));
        const z = e.reduce((a, b) => a + b, 0);
        seen.forEach((s, i) => {
          for (let j = 0; j < hd; j++) attn[hh * hd + j] += (e[i] / z) * vs[s][kv][j];
        });
      }
      let o = matVec(get(`${p}self_attn.o_proj.weight`), attn, D);
      if (gemma) o = rmsNorm(o, get(`${p}post_attention_layernorm.weight`), c.rms_norm_eps, true);
      const x2 = xs[t].map((v, i) => v + o[i]);
      const h2 = rmsNorm(x2, get(gemma ? `${p}pre_feedforward_layernorm.weight` : `${p}post_attention_layernorm.weight`), c.rms_norm_eps, gemma);
      let gate: Float64Array, up: Float64Array;
      if (c.fused_projections) {
        gate = matVec(get(`${p}mlp.gate_up_proj.weight`), h2, I);
        up = matVec(get(`${p}mlp.gate_up_proj.weight`), h2, I, I);
      } else {
        gate = matVec(get(`${p}mlp.gate_proj.weight`), h2, I);
        up = matVec(get(`${p}mlp.up_proj.weight`), h2, I);
      }
      const act = gate.map((g, i) => (c.hidden_act === 'gelu_pytorch_tanh' ? gelu(g) : silu(g)) * up[i]);
      let m = matVec(get(`${p}mlp.down_proj.weight`), act, D);
      if (gemma) m = rmsNorm(m, get(`${p}post_feedforward_layernorm.weight`), c.rms_norm_eps, true);
      next.push(x2.map((v, i) => v + m[i]));
    }
    xs = next;
  }
  const head = c.tie_word_embeddings ? E : get('lm_head.weight');
  return xs.map((x) => matVec(head, rmsNorm(x, get('model.norm.weight'), c.rms_norm_eps, gemma), c.vocab_size).map((v) => cap(v, c.final_logit_softcapping)));
}
