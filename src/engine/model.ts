// One decoder-only transformer for the Llama family (llama / mistral, qwen2, qwen3), gemma3_text and
// phi3, following transformers' modeling_llama.py / modeling_qwen2.py / modeling_qwen3.py /
// modeling_gemma3.py / modeling_phi3.py. Everything comes from config.json; weights keep their
// Hugging Face names and [out, in] layout. What differs per family lives in families.ts.
//
// Sliding-window layers (gemma3, phi3) keep the whole KV cache and mask the keys outside the window:
// the same numbers as a rolling cache, at the memory of a full one.
//
// Shapes: B batch, T new tokens, P cached tokens, D hidden_size, H heads, K kv heads, hd head_dim,
// R = H / K query heads per kv head, V vocab.
import * as tf from '@tensorflow/tfjs-core';
import { readModelConfig, ropeInverseFrequencies, rotaryDimension, slidingWindowOf, type ModelConfig } from '../core/modelConfig';
import { WeightStore } from '../core/safetensors';
import { columns, embeddingScale, gatedProduct, layerNorms, layerProjections, normScale, softcap } from './families';
import type { LoraAdapter } from './lora';
// The operations, each on the active backend's kernel (fused on webgpu, tfjs ops elsewhere).
import { appendToCache, attention, byRows, embedding, linear, requireOneBinding, rmsNorm, rope, type AttentionMask, type RopeTables } from './ops';
import { dequantize, packedKernelsAvailable } from './packedMatMul';
import { recomputeGradients } from './recompute';
import { disposePacked, frozenFromStored, isPacked, packedBytes, type FrozenMatrix, type PackedWeight, type QuantizeKind, type StoredTensor } from './packedWeight';

export const MASKED = -1e9;

/** How DecoderModel.load holds the weights in memory. */
export interface LoadOptions {
  /**
   * Quantize the frozen projection weights of every decoder layer (q/k/v/o/gate/up/down, phi3's fused
   * ones): int8 per output row or nf4 in blocks of 64 (packedWeight.ts). Default 'none'.
   */
  quantize?: QuantizeKind;
  /**
   * Hold every weight as float32 (full fine-tuning trains them; exports write them). Default: matrices
   * stored as F16 / BF16 stay 16-bit where the backend has kernels for packed weights.
   */
  float32?: boolean;
}

/** Keys and values of every layer for tokens already seen: [B, K, P, hd] each. */
export interface KVCache {
  layers: { k: tf.Tensor4D; v: tf.Tensor4D }[];
  length: number;
}

export interface ForwardOptions {
  adapter?: LoraAdapter;
  /** enables LoRA dropout and embedding noise. */
  training?: boolean;
  /** seeds LoRA dropout so that a resumed run draws the same masks. */
  dropoutSeed?: number;
  /** NEFTune: uniform noise of magnitude alpha / sqrt(T·D) on the input embeddings while training. */
  neftuneAlpha?: number;
  /** tokens already processed; the new tokens attend to them and their positions follow them. */
  cache?: KVCache;
  /** [B, P+T] with 1 for real tokens, 0 for padding (left-padded batches). Right padding needs none. */
  attentionMask?: tf.Tensor2D;
  /**
   * Keep only each decoder layer's input for the backward pass and recompute the layer's activations
   * there (activation memory O(layers·T·D) instead of O(layers·T·(intermediate + heads·T))), at the
   * cost of a second forward pass. Defaults to `model.gradientCheckpointing`. Ignored with a cache.
   */
  gradientCheckpointing?: boolean;
}

/** What a decoder layer of one forward pass gets (rope tables and mask depend on the layer's kind). */
interface LayerContext {
  B: number;
  T: number;
  rope: RopeTables;
  mask: AttentionMask;
  options: ForwardOptions;
  cache?: KVCache;
}

/** Which rope tables and mask a layer uses: gemma3's sliding layers differ in both. */
interface LayerKind {
  localRope: boolean;
  window: number | null;
}

/** A layer's output and, when decoding with a cache, its keys and values over all P+T positions. */
interface LayerOutput {
  x: tf.Tensor2D;
  kv?: { k: tf.Tensor4D; v: tf.Tensor4D };
}

export interface ForwardResult {
  /** final-normed hidden states, [B·T, D]. */
  hidden: tf.Tensor2D;
  /** the extended cache when `options.cache` was given (caller owns and disposes it). */
  cache?: KVCache;
}

export class DecoderModel {
  private ropeCache = new Map<string, { cos: tf.Tensor2D; sin: tf.Tensor2D }>();
  private readonly kinds: LayerKind[];
  private causalCache = new Map<string, tf.Tensor4D>();
  private rotation?: tf.Tensor2D;
  /** the default of ForwardOptions.gradientCheckpointing (the trainer sets it from the run config). */
  gradientCheckpointing = false;

  constructor(
    readonly config: ModelConfig,
    /** Hugging Face names → float32 tensors (tf.Variable for trainable weights in full fine-tuning). */
    readonly weights: Map<string, tf.Tensor>,
    /** Hugging Face names → frozen matrices held packed (16-bit or quantized); not in `weights`. */
    readonly packed: Map<string, PackedWeight> = new Map(),
  ) {
    this.checkWeights();
    this.kinds = Array.from({ length: config.num_hidden_layers }, (_, i) => ({
      localRope: config.layer_types[i] === 'sliding_attention',
      window: slidingWindowOf(config, i),
    }));
  }

  /**
   * Loads a model folder tensor by tensor. Matrices stored as F16 / BF16 stay 16-bit in memory (unless
   * `float32`, or the backend has no kernels for packed weights); with `quantize` the decoder layers'
   * projections are quantized. Norms, biases and F32-stored matrices are float32.
   */
  static load(dir: string, options: LoadOptions = {}): DecoderModel {
    const config = readModelConfig(dir);
    const store = WeightStore.openFolder(dir);
    try {
      return DecoderModel.fromStored(config, (name) => {
        const stored = storedWeightName(name, (n) => store.has(n));
        if (!stored) throw new Error(`${dir}: missing tensor ${name} in the model's weights`);
        return store.readBytes(stored);
      }, options);
    } finally {
      store.close();
    }
  }

  /**
   * The model of `config` from its weights as stored (`read` gives one at a time, in
   * expectedWeightNames order), held as `options` ask: float32, 16-bit or quantized (see load).
   */
  static fromStored(config: ModelConfig, read: (name: string) => StoredTensor, options: LoadOptions = {}): DecoderModel {
    const quantize = options.quantize ?? 'none';
    if (quantize !== 'none' && options.float32) throw new Error(`--quantize ${quantize} quantizes frozen weights: it cannot be combined with float32 (trainable) weights`);
    const widen = options.float32 ?? !packedKernelsAvailable();
    // Without packed kernels every product would dequantize its weight in JavaScript at each call.
    if (quantize !== 'none' && widen) throw new Error(`--quantize ${quantize} needs a backend with kernels for packed weights (wasm or webgpu); the ${tf.getBackend()} backend has none: use --backend wasm or webgpu`);
    const projections = new Set(projectionWeightNames(config));
    const weights = new Map<string, tf.Tensor>();
    const packed = new Map<string, PackedWeight>();
    try {
      for (const name of expectedWeightNames(config)) {
        const held = frozenFromStored(read(name), { quantize: projections.has(name) ? quantize : 'none', widen });
        if (isPacked(held)) packed.set(name, held);
        else weights.set(name, held);
      }
    } catch (err) {
      for (const t of weights.values()) t.dispose();
      for (const p of packed.values()) disposePacked(p);
      throw err;
    }
    return new DecoderModel(config, weights, packed);
  }

  private checkWeights(): void {
    const c = this.config;
    const expectShape = (name: string, shape: number[]) => {
      const t = this.weights.get(name) ?? this.packed.get(name);
      if (!t) throw new Error(`missing tensor ${name}`);
      if (t.shape.join(',') !== shape.join(',')) {
        throw new Error(`tensor ${name} has shape [${t.shape.join(', ')}], config.json implies [${shape.join(', ')}]`);
      }
    };
    expectShape('model.embed_tokens.weight', [c.vocab_size, c.hidden_size]);
    if (!c.tie_word_embeddings) expectShape('lm_head.weight', [c.vocab_size, c.hidden_size]);
    for (let i = 0; i < c.num_hidden_layers; i++) {
      const p = `model.layers.${i}`;
      for (const proj of layerProjections(c)) expectShape(`${p}.${proj.name}.weight`, [proj.out, proj.in]);
    }
  }

  /**
   * lm_head, or the embedding matrix when tied: [V, D], for the losses (loss.ts, dpo.ts, grpo.ts),
   * which compute plain logits: a model with final_logit_softcapping is refused there.
   */
  get head(): FrozenMatrix {
    const cap = this.config.final_logit_softcapping;
    if (cap !== null) {
      throw new Error(`final_logit_softcapping (${cap}) is not supported in training or evaluation losses yet; generation applies it`);
    }
    return this.outputMatrix;
  }

  private get outputMatrix(): FrozenMatrix {
    return this.matrix(this.config.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight');
  }

  parameterCount(): number {
    let n = 0;
    for (const t of this.weights.values()) n += t.size;
    for (const p of this.packed.values()) n += p.shape[0] * p.shape[1];
    return n;
  }

  /** Bytes the weights hold in memory (float32 tensors and packed matrices). */
  weightBytes(): number {
    let n = 0;
    for (const t of this.weights.values()) n += t.size * 4;
    for (const p of this.packed.values()) n += packedBytes(p);
    return n;
  }

  /** [out, in] of a matrix, whether float32 or packed. */
  matrixShape(name: string): [number, number] {
    const m = this.matrix(name);
    return [m.shape[0], m.shape[1]];
  }

  /**
   * The float32 tensor of `name`; a packed matrix is dequantized and held as float32 from now on
   * (merging an adapter into it, exports).
   */
  denseWeight(name: string): tf.Tensor {
    const p = this.packed.get(name);
    if (p) {
      this.weights.set(name, dequantize(p));
      this.packed.delete(name);
      disposePacked(p);
    }
    return this.w(name);
  }

  /** A matrix as the kernels take it: packed if held packed, else its float32 tensor. */
  private matrix(name: string): FrozenMatrix {
    return this.packed.get(name) ?? (this.w(name) as tf.Tensor2D);
  }

  private w(name: string): tf.Tensor {
    const t = this.weights.get(name);
    if (!t) throw new Error(`missing tensor ${name}`);
    return t;
  }

  /** Runs the decoder on `inputIds` [B, T] (int32) and returns the final hidden states [B·T, D]. */
  forward(inputIds: tf.Tensor2D, options: ForwardOptions = {}): ForwardResult {
    const c = this.config;
    const [B, T] = inputIds.shape;
    const past = options.cache?.length ?? 0;
    const D = c.hidden_size;

    let x = this.embed(inputIds); // [B·T, D]
    const scale = embeddingScale(c);
    if (scale !== 1) x = tf.mul(x, scale) as tf.Tensor2D; // gemma; NEFTune noise comes after it
    if (options.training && options.neftuneAlpha && options.neftuneAlpha > 0) {
      const magnitude = options.neftuneAlpha / Math.sqrt(T * D);
      x = tf.add(x, tf.randomUniform(x.shape, -magnitude, magnitude, 'float32', options.dropoutSeed));
    }
    // Per kind of layer: rope tables (gemma3's sliding layers use rope_local_base_freq) and mask [B|1, 1, T, P+T].
    const ropeOf = (kind: LayerKind): RopeTables => ({ ...this.ropeTables(past, T, kind.localRope), rotaryDim: rotaryDimension(c), rotation: () => this.rotateHalfMatrix() });
    const masks = new Map<number | null, AttentionMask>();
    const maskOf = (kind: LayerKind) => {
      if (!masks.has(kind.window)) masks.set(kind.window, this.attentionBias(B, T, past, options.attentionMask, kind.window));
      return masks.get(kind.window)!;
    };
    const newCache: KVCache | undefined = options.cache ? { layers: [], length: past + T } : undefined;
    const checkpointing = (options.gradientCheckpointing ?? this.gradientCheckpointing) && !options.cache;
    // Recomputing a layer must draw the same dropout masks as its first pass, so it needs a seed.
    const layerOptions = checkpointing && options.training && options.dropoutSeed === undefined
      ? { ...options, dropoutSeed: Math.floor(Math.random() * 2 ** 31) }
      : options;
    for (let i = 0; i < c.num_hidden_layers; i++) {
      const ctx: LayerContext = { B, T, rope: ropeOf(this.kinds[i]), mask: maskOf(this.kinds[i]), options: layerOptions, cache: options.cache };
      // One tidy per layer: without it a caller's tidy around forward() (generation, evaluation) keeps
      // every layer's intermediates until the end, 24 layers × ~170 MB for a 0.5B model at 512 tokens.
      // Under a gradient tape this frees only what the backward pass does not need.
      const input = x;
      const run = (): LayerOutput => (checkpointing ? { x: this.checkpointedLayer(input, i, ctx) } : this.layer(input, i, ctx));
      const out = tf.tidy(run as unknown as () => tf.TensorContainer) as unknown as LayerOutput;
      x = out.x;
      if (newCache && out.kv) newCache.layers.push(out.kv);
    }
    const hidden = this.norm(x, 'model.norm.weight') as tf.Tensor2D;
    return { hidden, cache: newCache };
  }

  /** RMSNorm by the named weight (by 1 + weight for Gemma). */
  private norm<T extends tf.Tensor>(x: T, weightName: string): T {
    return rmsNorm(x, normScale(this.config, this.w(weightName)), this.config.rms_norm_eps);
  }

  /**
   * Decoder layer i: x + attention(norm(x)), then + mlp(norm(·)). Gemma also normalises each
   * branch's output (post_attention_layernorm, post_feedforward_layernorm) before adding it.
   */
  private layer(x: tf.Tensor2D, i: number, ctx: LayerContext): LayerOutput {
    const c = this.config;
    const p = `model.layers.${i}`;
    const h = this.norm(x, `${p}.input_layernorm.weight`);
    const attn = this.attention(h, p, i, ctx);
    if (c.gemma_norms) {
      const x2: tf.Tensor2D = tf.add(x, this.norm(attn.out, `${p}.post_attention_layernorm.weight`));
      const h2 = this.norm(x2, `${p}.pre_feedforward_layernorm.weight`);
      const x3: tf.Tensor2D = tf.add(x2, this.norm(this.mlp(h2, p, ctx.options, i), `${p}.post_feedforward_layernorm.weight`));
      return { x: x3, kv: ctx.cache ? attn.kv : undefined };
    }
    const x2: tf.Tensor2D = tf.add(x, attn.out);
    const h2 = this.norm(x2, `${p}.post_attention_layernorm.weight`);
    return { x: tf.add(x2, this.mlp(h2, p, ctx.options, i)), kv: ctx.cache ? attn.kv : undefined };
  }

  /**
   * The same layer under tf.customGrad: the forward pass runs off the tape (its activations are
   * freed at once) and the backward pass recomputes them with a nested gradient computation.
   */
  private checkpointedLayer(x: tf.Tensor2D, i: number, ctx: LayerContext): tf.Tensor2D {
    const params = this.trainableTensorsOfLayer(i, ctx.options);
    const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const save = args[args.length - 1] as tf.GradSaveFunc;
      const input = args[0] as tf.Tensor2D;
      // The rope tables and the mask come from caches that a later forward pass may evict before
      // this backward pass runs: the saved copies (shared buffers) stay valid.
      save([input, ctx.rope.cos, ctx.rope.sin, ctx.mask.bias, ...(ctx.mask.keys ? [ctx.mask.keys] : [])]);
      return {
        value: this.layer(input, i, ctx).x,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [x0, cos, sin, bias, keys] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor4D, tf.Tensor4D | undefined];
          return recomputeGradients(() => this.layer(x0, i, { ...ctx, rope: { ...ctx.rope, cos, sin }, mask: { bias, keys } }).x, [x0, ...params], dy);
        },
      };
    });
    return run(x, ...params) as tf.Tensor2D;
  }

  /** Tensors of layer i that receive gradients: its LoRA matrices and, in full fine-tuning, its weights. */
  private trainableTensorsOfLayer(i: number, options: ForwardOptions): tf.Tensor[] {
    const p = `model.layers.${i}.`;
    const out: tf.Tensor[] = [];
    for (const [name, t] of this.weights) if (name.startsWith(p) && t instanceof tf.Variable && t.trainable) out.push(t);
    for (const m of options.adapter?.allModules() ?? []) {
      if (m.prefix.startsWith(p) && options.adapter?.module(m.prefix)) out.push(m.A, m.B);
    }
    return out;
  }

  /** Logits [N, V] for hidden states [N, D]. Training uses chunked cross-entropy instead (loss.ts). */
  logits(hidden: tf.Tensor2D): tf.Tensor2D {
    const head = this.outputMatrix, cap = this.config.final_logit_softcapping;
    // [N, V] is over one GPU binding from a few hundred rows of a large vocabulary: rows in chunks there.
    return byRows(hidden, head.shape[0], (rows) => [softcap(linear(rows, head), cap)])[0];
  }

  private embed(inputIds: tf.Tensor2D): tf.Tensor2D {
    return embedding(this.matrix('model.embed_tokens.weight'), inputIds);
  }

  /** The projection `prefix` (weight [out, in], optional bias) of x [N, in], plus its LoRA delta. */
  private project(x: tf.Tensor2D, prefix: string, options: ForwardOptions, layer: number, hasBias: boolean): tf.Tensor2D {
    let y = linear(x, this.matrix(`${prefix}.weight`), hasBias ? (this.w(`${prefix}.bias`) as tf.Tensor1D) : undefined);
    const lora = options.adapter?.module(prefix);
    if (lora) y = lora.addDelta(y, x, options.training === true, seedFor(options.dropoutSeed, layer, prefix));
    return y;
  }

  private attention(h: tf.Tensor2D, p: string, layer: number, ctx: LayerContext): { out: tf.Tensor2D; kv: { k: tf.Tensor4D; v: tf.Tensor4D } } {
    const c = this.config, { B, T, options } = ctx;
    const H = c.num_attention_heads, K = c.num_key_value_heads, hd = c.head_dim;
    const split = (y: tf.Tensor2D, heads: number) => tf.reshape(y, [B, T, heads, hd]) as tf.Tensor4D; // [B, T, heads, hd]
    // q, k, v as [N, heads·hd]. q_norm, rope and attention's chunks read q whole: refuse it before
    // computing it when it is over one GPU binding. phi3's fused [N, (H + 2K)·hd] may be over one
    // where q is not: its rows go in chunks; chunks of the separate projections would gain nothing.
    requireOneBinding([B * T, H * hd], 'the attention queries of a layer', 'rope and attention');
    const projections = (rows: tf.Tensor2D, start: number) => this.queryKeyValue(rows, p, rowOptions(options, start), layer);
    const [q2, k2, v2] = c.fused_projections ? byRows(h, (H + 2 * K) * hd, projections) : projections(h, 0);
    let q = split(q2, H), k = split(k2, K);
    const v0 = split(v2, K);
    if (c.qk_norm) {
      q = this.norm(q, `${p}.self_attn.q_norm.weight`);
      k = this.norm(k, `${p}.self_attn.k_norm.weight`);
    }
    // [B, heads, T, hd], rotated by position.
    const qr = rope(q, ctx.rope);
    let kr = rope(k, ctx.rope);
    let v = tf.transpose(v0, [0, 2, 1, 3]) as tf.Tensor4D;
    const layerCache = ctx.cache?.layers[layer];
    if (layerCache) {
      kr = appendToCache(layerCache.k, kr);
      v = appendToCache(layerCache.v, v);
    }
    // Without key padding the mask hides every future key (and, for a sliding layer, the keys before
    // the window, which stay masked), so the fused kernel may skip the future keys.
    const merged = attention(qr, kr, v, ctx.mask, { scale: this.scoreScale, softcap: c.attn_logit_softcapping, causal: options.attentionMask === undefined });
    return { out: this.project(merged, `${p}.self_attn.o_proj`, options, layer, c.o_bias), kv: { k: kr, v } };
  }

  /** The q, k and v projections of rows h [N, D]: [N, H·hd], [N, K·hd], [N, K·hd]. */
  private queryKeyValue(h: tf.Tensor2D, p: string, options: ForwardOptions, layer: number): tf.Tensor2D[] {
    const c = this.config, H = c.num_attention_heads, K = c.num_key_value_heads, hd = c.head_dim;
    if (c.fused_projections) {
      // phi3: qkv_proj's rows are [q (H·hd); k (K·hd); v (K·hd)].
      const qkv = this.project(h, `${p}.self_attn.qkv_proj`, options, layer, c.qkv_bias);
      return [columns(qkv, 0, H * hd), columns(qkv, H * hd, K * hd), columns(qkv, (H + K) * hd, K * hd)];
    }
    return ['q_proj', 'k_proj', 'v_proj'].map((name) => this.project(h, `${p}.self_attn.${name}`, options, layer, c.qkv_bias));
  }

  /** Attention scores are q·k scaled by this: query_pre_attn_scalar^-0.5 (head_dim^-0.5 but for Gemma). */
  private get scoreScale(): number {
    return 1 / Math.sqrt(this.config.query_pre_attn_scalar);
  }

  /**
   * down(act(gate(h))·up(h)); phi3 computes gate and up in one gate_up_proj (rows [gate; up]). The
   * intermediate [N, intermediate_size] may be over one GPU binding where [N, D] is not: then the
   * rows go through in chunks.
   */
  private mlp(h: tf.Tensor2D, p: string, options: ForwardOptions, layer: number): tf.Tensor2D {
    const c = this.config, I = c.intermediate_size;
    return byRows(h, c.fused_projections ? 2 * I : I, (rows, start) => [this.mlpRows(rows, p, rowOptions(options, start), layer)])[0];
  }

  private mlpRows(h: tf.Tensor2D, p: string, options: ForwardOptions, layer: number): tf.Tensor2D {
    const c = this.config, bias = c.mlp_bias, I = c.intermediate_size;
    let gate: tf.Tensor2D, up: tf.Tensor2D;
    if (c.fused_projections) {
      const gateUp = this.project(h, `${p}.mlp.gate_up_proj`, options, layer, bias);
      gate = columns(gateUp, 0, I);
      up = columns(gateUp, I, I);
    } else {
      gate = this.project(h, `${p}.mlp.gate_proj`, options, layer, bias);
      up = this.project(h, `${p}.mlp.up_proj`, options, layer, bias);
    }
    return this.project(gatedProduct(c, gate, up), `${p}.mlp.down_proj`, options, layer, bias);
  }

  /**
   * cos/sin tables [T, hd] for positions past..past+T-1, in float32 arithmetic as transformers does.
   * Only the first rotary_dim dims turn (phi3's partial_rotary_factor): the rest get cos 1, sin 0.
   * `local`: gemma3's sliding layers. longrope picks its factors by this call's last position + 1 and
   * scales cos and sin by attention_factor.
   */
  private ropeTables(past: number, T: number, local = false): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
    const key = `${local}:${past}:${T}`;
    const hit = this.ropeCache.get(key);
    if (hit) return hit;
    const c = this.config, hd = c.head_dim, half = rotaryDimension(c) / 2;
    const inv = Float32Array.from(ropeInverseFrequencies(c, { local, positions: past + T }));
    const factor = !local && c.rope_scaling.rope_type === 'longrope' ? Math.fround(c.rope_scaling.attention_factor) : 1;
    const cos = new Float32Array(T * hd).fill(1), sin = new Float32Array(T * hd);
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < half; j++) {
        const angle = Math.fround((past + t) * inv[j]);
        const cj = Math.fround(Math.cos(angle) * factor), sj = Math.fround(Math.sin(angle) * factor);
        cos[t * hd + j] = cos[t * hd + j + half] = cj;
        sin[t * hd + j] = sin[t * hd + j + half] = sj;
      }
    }
    const entry = { cos: tf.keep(tf.tensor2d(cos, [T, hd])), sin: tf.keep(tf.tensor2d(sin, [T, hd])) };
    if (this.ropeCache.size > 64) this.clearRopeCache();
    this.ropeCache.set(key, entry);
    return entry;
  }

  private clearRopeCache(): void {
    for (const { cos, sin } of this.ropeCache.values()) {
      cos.dispose();
      sin.dispose();
    }
    this.ropeCache.clear();
    for (const t of this.causalCache.values()) t.dispose();
    this.causalCache.clear();
  }

  /**
   * R [hd, hd] with x·R = rotate_half(x) = [-x2, x1] over the first rotary_dim dims (zero on the
   * others, whose sin is 0): a signed permutation, so the product is exact.
   * WHY a product: split + neg + concat over the last axis are three strided copies that cost more
   * than the q/k projections on the wasm backend; one small matmul is cheap and differentiable.
   */
  private rotateHalfMatrix(): tf.Tensor2D {
    if (!this.rotation) {
      const hd = this.config.head_dim, half = rotaryDimension(this.config) / 2;
      const r = new Float32Array(hd * hd);
      for (let j = 0; j < half; j++) {
        r[(j + half) * hd + j] = -1; // out[j] = -x[j + half]
        r[j * hd + j + half] = 1; // out[j + half] = x[j]
      }
      this.rotation = tf.keep(tf.tensor2d(r, [hd, hd]));
    }
    return this.rotation;
  }

  /**
   * Additive attention bias: causal over P+T keys, plus key padding when a mask is given. With a
   * sliding `window` (transformers' masking_utils) query q also misses key k when q − k ≥ window.
   */
  private attentionBias(B: number, T: number, past: number, attentionMask?: tf.Tensor2D, window: number | null = null): AttentionMask {
    const S = past + T;
    const key = `${past}:${T}:${window}`;
    let bias = this.causalCache.get(key);
    if (!bias) {
      const causal = new Float32Array(T * S);
      for (let t = 0; t < T; t++) {
        causal.fill(MASKED, t * S + past + t + 1, (t + 1) * S);
        if (window !== null) causal.fill(MASKED, t * S, t * S + Math.max(0, past + t - window + 1));
      }
      if (this.causalCache.size > 64) {
        for (const t of this.causalCache.values()) t.dispose();
        this.causalCache.clear();
      }
      bias = tf.keep(tf.tensor4d(causal, [1, 1, T, S]));
      this.causalCache.set(key, bias);
    }
    if (!attentionMask) return { bias };
    if (attentionMask.shape[1] !== S) throw new Error(`attention mask has ${attentionMask.shape[1]} positions, expected ${S}`);
    const keys = tf.reshape(tf.mul(tf.sub(1, tf.cast(attentionMask, 'float32')), MASKED), [B, 1, 1, S]) as tf.Tensor4D;
    return { bias, keys };
  }

  dispose(): void {
    for (const t of this.weights.values()) t.dispose();
    for (const p of this.packed.values()) disposePacked(p);
    this.clearRopeCache();
    this.rotation?.dispose();
    this.rotation = undefined;
  }
}

/** The options for rows from `start` on of a chunked computation: another LoRA dropout seed per chunk. */
function rowOptions(options: ForwardOptions, start: number): ForwardOptions {
  return start === 0 || options.dropoutSeed === undefined ? options : { ...options, dropoutSeed: options.dropoutSeed + start };
}

/** A distinct dropout seed for each layer and projection; undefined seeds draw from tfjs's global RNG. */
function seedFor(seed: number | undefined, layer: number, prefix: string): number | undefined {
  if (seed === undefined) return undefined;
  let h = seed ^ (layer * 0x9e3779b1);
  for (let i = 0; i < prefix.length; i++) h = Math.imul(h ^ prefix.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The projection weights of every decoder layer: what `quantize` quantizes. */
export function projectionWeightNames(c: ModelConfig): string[] {
  const names: string[] = [];
  for (let i = 0; i < c.num_hidden_layers; i++) {
    for (const proj of layerProjections(c)) names.push(`model.layers.${i}.${proj.name}.weight`);
  }
  return names;
}

export function expectedWeightNames(c: ModelConfig): string[] {
  const names = ['model.embed_tokens.weight', 'model.norm.weight'];
  if (!c.tie_word_embeddings) names.push('lm_head.weight');
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}`;
    for (const norm of layerNorms(c)) names.push(`${p}.${norm.name}.weight`);
    for (const proj of layerProjections(c)) {
      names.push(`${p}.${proj.name}.weight`);
      if (proj.bias) names.push(`${p}.${proj.name}.bias`);
    }
  }
  return names;
}

/**
 * The name under which a checkpoint stores the decoder weight `name`: itself, or in a
 * Gemma3ForConditionalGeneration checkpoint the same under its language model
 * (`language_model.model.…` as transformers < 4.52 saved it, `model.language_model.…` since).
 */
export function storedWeightName(name: string, has: (stored: string) => boolean): string | undefined {
  const candidates = name.startsWith('model.')
    ? [name, `model.language_model.${name.slice('model.'.length)}`, `language_model.${name}`]
    : [name, `language_model.${name}`];
  return candidates.find(has);
}
