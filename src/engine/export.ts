// Writing a whole model folder (full fine-tuning checkpoints, merged LoRA exports): weights as
// safetensors (sharded with model.safetensors.index.json when large, as transformers'
// save_pretrained does), plus the base folder's config, generation config and tokenizer files.
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic, writeSafetensors } from '../core/safetensors';
import { expectedWeightNames, type DecoderModel } from './model';
import { isSameFile, realPathOf } from '../core/pathGuard';

export type WeightDtype = 'F32' | 'F16' | 'BF16';

/** Files of the base folder that describe the model apart from its weights (tokenizer, configs). */
const COPIED_FILES = [
  'config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json',
  'chat_template.jinja', 'vocab.json', 'merges.txt', 'added_tokens.json', 'tokenizer.model',
];

/** transformers' default shard limit is 5 GB; 2 GB keeps every shard loadable on 32-bit-offset tooling too. */
export const DEFAULT_MAX_SHARD_BYTES = 2 * 1024 ** 3;

const BYTES: Record<WeightDtype, number> = { F32: 4, F16: 2, BF16: 2 };
const TORCH_DTYPE: Record<WeightDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

export interface SaveFullModelOptions {
  dtype?: WeightDtype;
  /** a shard is closed before it would exceed this many bytes of tensor data. */
  maxShardBytes?: number;
  /** replaces the chat template (tokenizer_config.json's chat_template, and chat_template.jinja when the base has one). */
  chatTemplate?: string;
}

export interface SavedModelFolder {
  /** weight files written, in order. */
  weightFiles: string[];
  /** bytes of tensor data (the index's metadata.total_size). */
  totalBytes: number;
  /** the base folder's config / tokenizer files copied alongside. */
  copiedFiles: string[];
}

/**
 * Writes `model` as a Hugging Face model folder in `dir`, with the non-weight files of `baseDir`.
 * The 4th argument may be a dtype alone (the trainer's checkpoint call) or the full options.
 */
export async function saveFullModel(
  model: DecoderModel, baseDir: string, dir: string, options: WeightDtype | SaveFullModelOptions = {},
): Promise<void> {
  await writeModelFolder(model, baseDir, dir, typeof options === 'string' ? { dtype: options } : options);
}

/** saveFullModel, telling which weight files it wrote. */
export async function writeModelFolder(model: DecoderModel, baseDir: string, dir: string, opts: SaveFullModelOptions = {}): Promise<SavedModelFolder> {
  const dtype = opts.dtype ?? 'F32';
  const maxShardBytes = opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  if (isSameFile(dir, baseDir) || realPathOf(dir) === realPathOf(baseDir)) throw new Error(`refusing to overwrite the base model folder ${baseDir}; choose another output folder`);
  fs.mkdirSync(dir, { recursive: true });
  removeOldWeights(dir); // a stale index next to a new single file would win when the folder is loaded

  const names = expectedWeightNames(model.config);
  const shards = planShards(names.map((name) => ({ name, bytes: model.weights.get(name)!.size * BYTES[dtype] })), maxShardBytes);
  const totalBytes = shards.flat().reduce((n, t) => n + t.bytes, 0);
  const fileNames = shards.length === 1
    ? ['model.safetensors']
    : shards.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`);
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < shards.length; s++) {
    // One shard's data in memory at a time.
    const tensors = [];
    for (const { name } of shards[s]) {
      const t = model.weights.get(name)!;
      tensors.push({ name, shape: t.shape, data: (await t.data()) as Float32Array });
      weightMap[name] = fileNames[s];
    }
    writeSafetensors(path.join(dir, fileNames[s]), tensors, { dtype, metadata: { format: 'pt' } });
  }
  if (shards.length > 1) {
    const sorted = Object.fromEntries(Object.keys(weightMap).sort().map((k) => [k, weightMap[k]]));
    const index = { metadata: { total_size: totalBytes }, weight_map: sorted };
    writeFileAtomic(path.join(dir, 'model.safetensors.index.json'), [JSON.stringify(index, null, 2) + '\n']);
  }

  const copiedFiles = COPIED_FILES.filter((f) => fs.existsSync(path.join(baseDir, f)));
  for (const f of copiedFiles) copyWritable(path.join(baseDir, f), path.join(dir, f));
  updateConfigDtype(path.join(dir, 'config.json'), dtype);
  if (opts.chatTemplate !== undefined) writeChatTemplate(dir, opts.chatTemplate);
  return { weightFiles: fileNames, totalBytes, copiedFiles };
}

/** Greedy in-order packing (as transformers' shard_checkpoint): a new shard starts when the next tensor would overflow. */
export function planShards<T extends { bytes: number }>(tensors: readonly T[], maxShardBytes: number): T[][] {
  if (!(maxShardBytes > 0)) throw new Error(`shard size must be positive, got ${maxShardBytes}`);
  const shards: T[][] = [[]];
  let current = 0;
  for (const t of tensors) {
    const last = shards[shards.length - 1];
    if (last.length > 0 && current + t.bytes > maxShardBytes) {
      shards.push([t]);
      current = t.bytes;
    } else {
      last.push(t);
      current += t.bytes;
    }
  }
  return shards;
}

/** Copies a file as a fresh, writable one (model folders are often read-only caches). */
export function copyWritable(src: string, dest: string): void {
  // Never delete a destination that is the source itself (a link, a case variant, the same folder).
  if (isSameFile(src, dest)) throw new Error(`refusing to replace ${dest}: it is the same file as ${src}; choose another output folder`);
  fs.rmSync(dest, { force: true });
  fs.copyFileSync(src, dest);
  fs.chmodSync(dest, 0o644);
}

function removeOldWeights(dir: string): void {
  for (const f of fs.readdirSync(dir)) {
    if (f === 'model.safetensors' || f === 'model.safetensors.index.json' || /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)) {
      fs.rmSync(path.join(dir, f));
    }
  }
}

/**
 * A Gemma3ForConditionalGeneration base is exported as the text decoder the engine trained
 * (Gemma3ForCausalLM, weights under `model.`): its text_config becomes the config, with the
 * top-level token ids it relies on.
 */
function textDecoderOnly(config: Record<string, unknown>): Record<string, unknown> {
  if (config.model_type !== 'gemma3' || typeof config.text_config !== 'object' || config.text_config === null) return config;
  const text: Record<string, unknown> = { ...(config.text_config as Record<string, unknown>), architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text' };
  for (const key of ['bos_token_id', 'eos_token_id', 'pad_token_id', 'tie_word_embeddings']) {
    if (text[key] === undefined && config[key] !== undefined) text[key] = config[key];
  }
  return text;
}

/** config.json says what dtype the weights are stored in (newer transformers also write `dtype`). */
function updateConfigDtype(file: string, dtype: WeightDtype): void {
  if (!fs.existsSync(file)) return;
  let config = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  config = textDecoderOnly(config);
  config.torch_dtype = TORCH_DTYPE[dtype];
  if ('dtype' in config) config.dtype = TORCH_DTYPE[dtype];
  writeFileAtomic(file, [JSON.stringify(config, null, 2) + '\n']);
}

/**
 * The template the model was trained with becomes the folder's template. transformers reads
 * chat_template.jinja before tokenizer_config.json's chat_template, so an existing .jinja file is
 * rewritten too (otherwise the stale one would win).
 */
function writeChatTemplate(dir: string, template: string): void {
  const configFile = path.join(dir, 'tokenizer_config.json');
  const config = fs.existsSync(configFile) ? (JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>) : {};
  config.chat_template = template;
  writeFileAtomic(configFile, [JSON.stringify(config, null, 2) + '\n']);
  const jinja = path.join(dir, 'chat_template.jinja');
  if (fs.existsSync(jinja)) writeFileAtomic(jinja, [template]);
}
