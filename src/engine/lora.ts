// LoRA (Hu et al. 2021) as PEFT implements it: y = W·x + (B·A·dropout(x))·alpha/r, with A [r, in]
// Kaiming-uniform and B [out, r] zero at init, so training starts from the base model exactly.
// Saved and loaded in PEFT's format (adapter_model.safetensors + adapter_config.json) so that
// Hugging Face PEFT loads our adapters and we load theirs.
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as path from 'path';
import { SafetensorsFile, writeFileAtomic, writeSafetensors } from '../core/safetensors';
import { layerProjections } from './families';
import { loraAddWasm, useWasmInferenceKernel, WASM_LORA_ADD } from './kernels/wasm/inferenceKernels';
import type { DecoderModel } from './model';

export interface LoraSettings {
  r: number;
  alpha: number;
  dropout: number;
  /**
   * module names: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj; phi3's fused
   * qkv_proj and gate_up_proj (see modelTargets).
   */
  targets: string[];
}

/** phi3's fused modules and the llama-style projections each one holds. */
const FUSED: Record<string, string[]> = { qkv_proj: ['q_proj', 'k_proj', 'v_proj'], gate_up_proj: ['gate_proj', 'up_proj'] };

/** One wrapped projection. */
export class LoraModule {
  constructor(
    readonly prefix: string,
    readonly A: tf.Variable, // [r, in]
    readonly B: tf.Variable, // [out, r]
    readonly scale: number,
    readonly dropout: number,
  ) {}

  /** (dropout(x)·Aᵀ)·Bᵀ·scale for x [N, in] → [N, out]. */
  delta(x: tf.Tensor2D, training: boolean, seed?: number): tf.Tensor2D {
    const input = training && this.dropout > 0 ? tf.dropout(x, this.dropout, undefined, seed) : x;
    return tf.mul(tf.matMul(tf.matMul(input, this.A, false, true), this.B, false, true), this.scale);
  }

  /** y + delta(x): one fused kernel for one row on wasm without gradients (decoding), else tfjs ops. */
  addDelta(y: tf.Tensor2D, x: tf.Tensor2D, training: boolean, seed?: number): tf.Tensor2D {
    if (x.shape[0] === 1 && !(training && this.dropout > 0) && useWasmInferenceKernel(WASM_LORA_ADD)) {
      return loraAddWasm(y, x, this.A as tf.Tensor2D, this.B as tf.Tensor2D, this.scale);
    }
    return tf.add(y, this.delta(x, training, seed));
  }
}

export class LoraAdapter {
  private readonly modules = new Map<string, LoraModule>();
  /**
   * Other trainable tensors saved with the adapter under their PEFT names, e.g. a reward model's
   * scalar head `base_model.model.score.weight` (PEFT's modules_to_save).
   */
  readonly extras = new Map<string, tf.Variable>();
  /** when false the model runs as the plain base (DPO's reference pass without a second weight copy). */
  enabled = true;

  constructor(readonly settings: LoraSettings, modules: LoraModule[]) {
    for (const m of modules) this.modules.set(m.prefix, m);
  }

  get scale(): number {
    return this.settings.alpha / this.settings.r;
  }

  module(prefix: string): LoraModule | undefined {
    return this.enabled ? this.modules.get(prefix) : undefined;
  }

  allModules(): LoraModule[] {
    return [...this.modules.values()];
  }

  /** Trainable variables in a fixed order (layer, projection, A then B; then the extras by name). */
  variables(): tf.Variable[] {
    const extras = [...this.extras.keys()].sort().map((k) => this.extras.get(k)!);
    return [...this.allModules().flatMap((m) => [m.A, m.B]), ...extras];
  }

  parameterCount(): number {
    return this.variables().reduce((n, v) => n + v.size, 0);
  }

  /** Fresh adapter: A ~ Kaiming-uniform(a=√5) as nn.Linear / PEFT, B = 0. */
  static create(model: DecoderModel, requested: LoraSettings, seed: number): LoraAdapter {
    const settings = { ...requested, targets: modelTargets(model, requested.targets) };
    const modules: LoraModule[] = [];
    let s = seed;
    for (const prefix of targetPrefixes(model, settings.targets)) {
      const [out, inp] = model.matrixShape(`${prefix}.weight`);
      const bound = 1 / Math.sqrt(inp); // kaiming_uniform_(a=√5): gain·√(3/fan_in) = √(1/3)·√(3/in)
      const A = trainable(() => tf.randomUniform([settings.r, inp], -bound, bound, 'float32', s++), `${prefix}.lora_A#${++variableCounter}`);
      const B = trainable(() => tf.zeros([out, settings.r]), `${prefix}.lora_B#${++variableCounter}`);
      modules.push(new LoraModule(prefix, A, B, settings.alpha / settings.r, settings.dropout));
    }
    return new LoraAdapter(settings, modules);
  }

  /** Loads a PEFT adapter folder (adapter_config.json + adapter_model.safetensors). */
  static load(dir: string, model: DecoderModel, overrides: Partial<Pick<LoraSettings, 'dropout'>> = {}): LoraAdapter {
    const configFile = path.join(dir, 'adapter_config.json');
    if (!fs.existsSync(configFile)) throw new Error(`${configFile}: not found (is ${dir} a PEFT adapter folder?)`);
    const cfg = JSON.parse(fs.readFileSync(configFile, 'utf8')) as {
      peft_type?: string; r?: number; lora_alpha?: number; lora_dropout?: number; target_modules?: string[] | string;
      use_dora?: boolean; use_rslora?: boolean; fan_in_fan_out?: boolean;
    };
    if (cfg.peft_type && cfg.peft_type !== 'LORA') throw new Error(`${configFile}: peft_type ${cfg.peft_type} is not supported (only LORA)`);
    if (cfg.use_dora) throw new Error(`${configFile}: DoRA adapters are not supported`);
    if (cfg.use_rslora) throw new Error(`${configFile}: rsLoRA adapters are not supported`);
    if (typeof cfg.r !== 'number' || typeof cfg.lora_alpha !== 'number') throw new Error(`${configFile}: missing r or lora_alpha`);
    const targets = modelTargets(model, cfg.target_modules === 'all-linear' || cfg.target_modules === undefined
      ? layerProjections(model.config).map((p) => moduleName(p.name))
      : Array.isArray(cfg.target_modules) ? cfg.target_modules : [cfg.target_modules]);
    const settings: LoraSettings = { r: cfg.r, alpha: cfg.lora_alpha, dropout: overrides.dropout ?? cfg.lora_dropout ?? 0, targets };
    const file = SafetensorsFile.open(path.join(dir, 'adapter_model.safetensors'));
    const modules: LoraModule[] = [];
    try {
      for (const prefix of targetPrefixes(model, targets)) {
        const [out, inp] = model.matrixShape(`${prefix}.weight`);
        const read = (which: 'A' | 'B', shape: number[]) => {
          const name = `base_model.model.${prefix}.lora_${which}.weight`;
          const { data, shape: got } = file.readFloat32(name);
          if (got.join(',') !== shape.join(',')) throw new Error(`${file.file}: ${name} has shape [${got}], expected [${shape}]`);
          return trainable(() => tf.tensor(data, shape), `${prefix}.lora_${which}#${++variableCounter}`);
        };
        modules.push(new LoraModule(prefix, read('A', [settings.r, inp]), read('B', [out, settings.r]), settings.alpha / settings.r, settings.dropout));
      }
      const adapter = new LoraAdapter(settings, modules);
      for (const name of file.tensors.keys()) {
        if (/\.lora_[AB]\.weight$/.test(name)) continue;
        const { data, shape } = file.readFloat32(name);
        adapter.extras.set(name, trainable(() => tf.tensor(data, shape), `${name}#${++variableCounter}`));
      }
      return adapter;
    } finally {
      file.close();
    }
  }

  /** Writes adapter_model.safetensors and adapter_config.json (PEFT names), each atomically. */
  async save(dir: string, baseModel: string): Promise<void> {
    fs.mkdirSync(dir, { recursive: true });
    const tensors = [];
    for (const m of this.allModules()) {
      tensors.push({ name: `base_model.model.${m.prefix}.lora_A.weight`, shape: m.A.shape, data: (await m.A.data()) as Float32Array });
      tensors.push({ name: `base_model.model.${m.prefix}.lora_B.weight`, shape: m.B.shape, data: (await m.B.data()) as Float32Array });
    }
    for (const [name, v] of this.extras) tensors.push({ name, shape: v.shape, data: (await v.data()) as Float32Array });
    writeSafetensors(path.join(dir, 'adapter_model.safetensors'), tensors, { metadata: { format: 'pt' } });
    const scoreHead = this.extras.has(SCORE_HEAD);
    const config = {
      peft_type: 'LORA',
      task_type: scoreHead ? 'SEQ_CLS' : 'CAUSAL_LM',
      ...(scoreHead ? { modules_to_save: ['score'] } : {}),
      r: this.settings.r,
      lora_alpha: this.settings.alpha,
      lora_dropout: this.settings.dropout,
      bias: 'none',
      target_modules: [...this.settings.targets].sort(),
      base_model_name_or_path: baseModel,
      fan_in_fan_out: false,
      use_rslora: false,
      use_dora: false,
      inference_mode: true,
    };
    writeFileAtomic(path.join(dir, 'adapter_config.json'), [JSON.stringify(config, null, 2) + '\n']);
  }

  /** Merges W += B·A·scale into the model's weights and returns them (for export); the adapter is unchanged. */
  fuse(model: DecoderModel): void {
    for (const m of this.allModules()) {
      const name = `${m.prefix}.weight`;
      const W = model.denseWeight(name);
      const merged = tf.tidy(() => tf.add(W, tf.mul(tf.matMul(m.B, m.A), m.scale)));
      W.dispose();
      model.weights.set(name, merged);
    }
  }

  dispose(): void {
    for (const v of this.variables()) v.dispose();
  }
}

/** PEFT's name for a sequence-classification (reward) head saved with the adapter. */
export const SCORE_HEAD = 'base_model.model.score.weight';

/** tfjs variable names are global: a counter keeps two loads of the same adapter apart. */
let variableCounter = 0;

/**
 * A trainable variable with the values of `init()`. In a tidy: tf.variable shares the initial tensor's
 * buffer, and that tensor, left alive, would keep the buffer after the variable is disposed.
 */
export function trainable(init: () => tf.Tensor, name: string): tf.Variable {
  return tf.tidy(() => tf.variable(init(), true, name));
}

/** `self_attn.q_proj` → `q_proj`. */
function moduleName(projection: string): string {
  return projection.slice(projection.indexOf('.') + 1);
}

/**
 * The model's own module names for the requested targets. phi3 fuses q/k/v into qkv_proj and
 * gate/up into gate_up_proj: the llama-style names (as in 'all-linear') select the fused module
 * when all of its parts are requested; a part alone cannot be adapted and is refused.
 */
export function modelTargets(model: DecoderModel, targets: readonly string[]): string[] {
  const own = layerProjections(model.config).map((p) => moduleName(p.name));
  const out = new Set<string>();
  for (const t of targets) {
    if (own.includes(t)) {
      out.add(t);
      continue;
    }
    const fused = Object.keys(FUSED).find((f) => own.includes(f) && FUSED[f].includes(t));
    if (!fused) throw new Error(`unknown LoRA target ${t} for ${model.config.model_type} (expected ${own.join(', ')})`);
    const missing = FUSED[fused].filter((part) => !targets.includes(part));
    if (missing.length > 0) {
      throw new Error(`LoRA target ${t}: ${model.config.model_type} computes ${FUSED[fused].join(', ')} in one ${fused}; target ${fused} (or all of ${FUSED[fused].join(', ')})`);
    }
    out.add(fused);
  }
  return [...out]; // in the order asked (adapter_config.json lists them so)
}

/** `model.layers.{i}.self_attn.q_proj`-style prefixes of every targeted projection, in layer order. */
export function targetPrefixes(model: DecoderModel, targets: readonly string[]): string[] {
  const wanted = new Set(modelTargets(model, targets));
  const projections = layerProjections(model.config).filter((p) => wanted.has(moduleName(p.name)));
  const prefixes: string[] = [];
  for (let i = 0; i < model.config.num_hidden_layers; i++) {
    for (const p of projections) prefixes.push(`model.layers.${i}.${p.name}`);
  }
  return prefixes;
}
