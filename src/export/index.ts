// `ftune export`: take a trained model anywhere.
//   peft    the adapter as PEFT files + a model card (Hugging Face PEFT, vLLM, the Hub)
//   merged  the adapter fused into the base weights: a plain transformers model folder
//   gguf    one GGUF file (llama.cpp, Ollama, LM Studio) + an Ollama Modelfile
//   trl     a ready-to-launch TRL / accelerate / Axolotl folder to re-run the training at scale
import * as fs from 'fs';
import * as path from 'path';
import { EXPORT_TARGETS, type ExportResult, type ExportTarget, type GgufType } from '../core/protocol';
import type { BackendName, Quantize, RunConfig } from '../core/runConfig';
import { readRunConfigFile, runConfigOfAdapter } from '../core/runConfigFile';
import { initBackend } from '../engine/backend';
import { isSameOrInside } from '../core/pathGuard';
import { copyWritable, writeModelFolder, type WeightDtype } from '../engine/export';
import { LoraAdapter } from '../engine/lora';
import { DecoderModel } from '../engine/model';
import { loadChatRenderer, resolveChatTemplate } from './chatTemplate';
import { exportGguf, type GgufExportResult } from './gguf';
import type { GgmlType } from './gguf/quant';
import { adapterCard, mergedCard, readRunSummary, type AdapterSettings } from './modelCard';
import { buildModelfile } from './ollama/modelfile';
import { exportTrl } from './trl';

export { EXPORT_TARGETS, type ExportResult, type ExportTarget };

export interface ExportOptions {
  to: ExportTarget;
  out: string;
  model?: string;
  adapter?: string;
  /** a run folder: its run_config.json, chat_template.jinja and final adapter / model. */
  run?: string;
  /** merged: weight dtype (default: the base's torch_dtype). */
  dtype?: 'bf16' | 'f16' | 'f32';
  /** gguf: tensor type (default f16). */
  type?: GgufType;
  /** merged: largest shard in bytes (default 2 GB). */
  maxShardBytes?: number;
  backend?: BackendName;
}

const DTYPES: Record<NonNullable<ExportOptions['dtype']>, WeightDtype> = { bf16: 'BF16', f16: 'F16', f32: 'F32' };
/** ggml's name of each GGUF type. */
export const GGML_TYPE: Record<GgufType, GgmlType> = { f16: 'F16', q8_0: 'Q8_0', f32: 'F32' };

function readRunConfig(runDir: string): RunConfig {
  const file = path.join(runDir, 'run_config.json');
  if (!fs.existsSync(file)) throw new Error(`${file}: not found (is ${runDir} a run folder?)`);
  // Missing keys take their defaults: a run_config.json from an older version may lack newer keys.
  return readRunConfigFile(file);
}

/** --model / --adapter, filled in from the run folder when not given. */
function resolveInputs(opts: ExportOptions, run: RunConfig | undefined): { model?: string; adapter?: string } {
  let model = opts.model;
  let adapter = opts.adapter;
  if (run && opts.run) {
    const finalModel = path.join(opts.run, 'model');
    if (!model) model = run.full && fs.existsSync(path.join(finalModel, 'config.json')) ? finalModel : run.model;
    const finalAdapter = path.join(opts.run, 'adapter');
    if (!adapter && !run.full && fs.existsSync(path.join(finalAdapter, 'adapter_config.json'))) adapter = finalAdapter;
  }
  return { model, adapter };
}

function baseDtype(modelDir: string): WeightDtype {
  try {
    const config = JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8')) as { torch_dtype?: string; dtype?: string };
    const d = config.torch_dtype ?? config.dtype;
    return d === 'bfloat16' ? 'BF16' : d === 'float16' ? 'F16' : 'F32';
  } catch {
    return 'F32';
  }
}

function readJsonFile(file: string): Record<string, unknown> | undefined {
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>) : undefined;
}

/** The base precision an adapter was trained on: its run's `quantize` (--run, or the run folder the adapter is in). */
function trainedOnPrecision(run: RunConfig | undefined, adapterDir: string | undefined): Quantize {
  if (!adapterDir) return 'none';
  return run?.quantize ?? runConfigOfAdapter(adapterDir)?.quantize ?? 'none';
}

/**
 * An adapter trained on an int8 / nf4 base is merged into the ORIGINAL weights read from the base folder
 * (as PEFT's merge_and_unload on a reloaded 16-bit base, what QLoRA users do), never into the
 * dequantized values it trained against: the note says so.
 */
function noteMergeBase(result: ExportResult, run: RunConfig | undefined, modelDir: string, adapterDir: string | undefined): Quantize {
  const trainedOn = trainedOnPrecision(run, adapterDir);
  if (trainedOn === 'none') return trainedOn;
  const dtype = baseDtype(modelDir);
  result.notes.push(`the adapter was trained on a ${trainedOn}-quantized base; it is merged into the original ${dtype} weights of ${modelDir} (as PEFT merges a QLoRA adapter), not into the ${trainedOn} values`);
  return trainedOn;
}

/** The base model with the adapter (if any) fused into its weights. */
async function loadFused(modelDir: string, adapterDir: string | undefined, backend: BackendName): Promise<DecoderModel> {
  await initBackend(backend);
  const model = DecoderModel.load(modelDir, { float32: true }); // exports write float32 values
  if (adapterDir) {
    try {
      const adapter = LoraAdapter.load(adapterDir, model);
      adapter.fuse(model);
      adapter.dispose();
    } catch (err) {
      model.dispose();
      throw err;
    }
  }
  return model;
}

export async function runExport(opts: ExportOptions): Promise<ExportResult> {
  const run = opts.run ? readRunConfig(opts.run) : undefined;
  const { model, adapter } = resolveInputs(opts, run);
  checkOutputFolder(opts, model, adapter);
  fs.mkdirSync(opts.out, { recursive: true });
  const result: ExportResult = { to: opts.to, out: opts.out, files: [], warnings: [], notes: [], model, adapter, details: {} };
  switch (opts.to) {
    case 'peft':
      await exportPeft(opts, adapter, result);
      break;
    case 'merged':
      await exportMerged(opts, requireModel(model), adapter, result, noteMergeBase(result, run, requireModel(model), adapter));
      break;
    case 'gguf':
      await exportGgufFolder(opts, requireModel(model), adapter, result, noteMergeBase(result, run, requireModel(model), adapter));
      break;
    case 'trl':
      await exportTrlFolder(opts, run, requireModel(model), result);
      break;
  }
  return result;
}

/**
 * The output folder may be neither an input folder nor inside one, however it is spelled (links, case
 * variants: pathGuard.ts); writing there would replace the files being read. A run folder's
 * `exports/` is the one place inside an input that is meant for output.
 */
function checkOutputFolder(opts: ExportOptions, model: string | undefined, adapter: string | undefined): void {
  const inputs: [string, string | undefined][] = [['the base model folder', model], ['the adapter folder', adapter]];
  for (const [what, dir] of inputs) {
    if (dir !== undefined && isSameOrInside(dir, opts.out)) throw new Error(`refusing to overwrite ${what} ${dir}: --out ${opts.out} is that folder or inside it; choose another output folder`);
  }
  if (opts.run && isSameOrInside(opts.run, opts.out) && !isSameOrInside(path.join(opts.run, 'exports'), opts.out)) {
    throw new Error(`--out ${opts.out} is inside the run folder ${opts.run}; use ${path.join(opts.run, 'exports')} or a folder outside the run`);
  }
}

function requireModel(model: string | undefined): string {
  if (!model) throw new Error('--model is required (or --run with a run_config.json naming it)');
  if (!fs.existsSync(path.join(model, 'config.json'))) throw new Error(`${model}: no config.json (is it a model folder?)`);
  return model;
}

async function exportPeft(opts: ExportOptions, adapterDir: string | undefined, result: ExportResult): Promise<void> {
  if (!adapterDir) throw new Error('--to peft needs --adapter DIR (or --run with a finished LoRA run)');
  const configFile = path.join(adapterDir, 'adapter_config.json');
  const weights = path.join(adapterDir, 'adapter_model.safetensors');
  for (const f of [configFile, weights]) if (!fs.existsSync(f)) throw new Error(`${f}: not found (is ${adapterDir} a PEFT adapter folder?)`);
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Partial<AdapterSettings> & { peft_type?: string; lora_alpha?: number };
  if (config.peft_type !== undefined && config.peft_type !== 'LORA') throw new Error(`${configFile}: peft_type ${config.peft_type} is not a LoRA adapter`);
  copyWritable(configFile, path.join(opts.out, 'adapter_config.json'));
  copyWritable(weights, path.join(opts.out, 'adapter_model.safetensors'));
  const targets = config.target_modules;
  const settings: AdapterSettings = {
    r: config.r ?? 0, lora_alpha: config.lora_alpha ?? 0, lora_dropout: config.lora_dropout ?? 0,
    target_modules: Array.isArray(targets) ? [...targets] : typeof targets === 'string' ? [targets] : [],
    base_model_name_or_path: config.base_model_name_or_path ?? opts.model,
  };
  const name = path.basename(path.resolve(opts.run ?? adapterDir));
  fs.writeFileSync(path.join(opts.out, 'README.md'), adapterCard(name, settings, readRunSummary(opts.run)));
  result.files.push('adapter_config.json', 'adapter_model.safetensors', 'README.md');
  result.details = { r: settings.r, lora_alpha: settings.lora_alpha, target_modules: settings.target_modules.join(',') };
}

async function exportMerged(opts: ExportOptions, modelDir: string, adapterDir: string | undefined, result: ExportResult, trainedOn: Quantize): Promise<void> {
  const dtype = opts.dtype ? DTYPES[opts.dtype] : baseDtype(modelDir);
  const chatTemplate = opts.run ? resolveChatTemplate(modelDir, opts.run) : undefined;
  const model = await loadFused(modelDir, adapterDir, opts.backend ?? 'auto');
  try {
    const saved = await writeModelFolder(model, modelDir, opts.out, { dtype, maxShardBytes: opts.maxShardBytes, chatTemplate });
    result.files.push(...saved.weightFiles);
    if (saved.weightFiles.length > 1) result.files.push('model.safetensors.index.json');
    result.files.push(...saved.copiedFiles);
    result.details = {
      dtype, shards: saved.weightFiles.length, total_bytes: saved.totalBytes, chat_template_from_run: chatTemplate !== undefined,
      trained_on: trainedOn, merged_into: `original ${baseDtype(modelDir)} weights`,
    };
  } finally {
    model.dispose();
  }
  const name = path.basename(path.resolve(opts.out));
  fs.writeFileSync(path.join(opts.out, 'README.md'), mergedCard(name, modelDir, adapterDir, dtype, readRunSummary(opts.run), trainedOn));
  result.files.push('README.md');
}

async function exportGgufFolder(opts: ExportOptions, modelDir: string, adapterDir: string | undefined, result: ExportResult, trainedOn: Quantize): Promise<void> {
  const type = GGML_TYPE[opts.type ?? 'f16'];
  const chatTemplate = resolveChatTemplate(modelDir, opts.run);
  const ggufName = `model-${type.toLowerCase()}.gguf`;
  const model = await loadFused(modelDir, adapterDir, opts.backend ?? 'auto');
  let exported: GgufExportResult;
  try {
    exported = await exportGguf({ modelDir, model, file: path.join(opts.out, ggufName), type, chatTemplate, name: path.basename(path.resolve(opts.run ?? modelDir)) });
  } finally {
    model.dispose();
  }
  result.warnings.push(...exported.warnings);
  result.files.push(ggufName);

  const generationConfig = readJsonFile(path.join(modelDir, 'generation_config.json'));
  const eosIds = new Set<number>();
  if (exported.vocab.eosId !== undefined) eosIds.add(exported.vocab.eosId);
  const genEos = generationConfig?.eos_token_id;
  for (const id of Array.isArray(genEos) ? genEos : [genEos]) if (typeof id === 'number') eosIds.add(id);
  const eosTexts = [...eosIds].map((id) => exported.vocab.tokens[id]).filter((t): t is string => t !== undefined);
  const render = chatTemplate !== undefined ? await loadChatRenderer(modelDir, chatTemplate) : undefined;
  const modelfile = buildModelfile({
    ggufFile: ggufName, chatTemplate, render, bosText: exported.vocab.bosText, addBos: exported.vocab.addBos, eosTexts, generationConfig,
  });
  fs.writeFileSync(path.join(opts.out, 'Modelfile'), modelfile.text);
  result.files.push('Modelfile');
  if (modelfile.reason) result.warnings.push(`Modelfile has no TEMPLATE: ${modelfile.reason}`);
  const counts: Record<string, number> = {};
  for (const t of exported.tensors) counts[t.type] = (counts[t.type] ?? 0) + 1;
  result.details = {
    type, arch: exported.arch, bytes: exported.bytes, tensors: exported.tensors.length,
    tensor_types: Object.entries(counts).map(([k, v]) => `${k}:${v}`).join(','),
    pre_tokenizer: exported.vocab.pre, modelfile_style: modelfile.style ?? null,
    trained_on: trainedOn, merged_into: `original ${baseDtype(modelDir)} weights`,
  };
}

async function exportTrlFolder(opts: ExportOptions, run: RunConfig | undefined, modelDir: string, result: ExportResult): Promise<void> {
  if (!run || !opts.run) throw new Error('--to trl needs --run DIR (the run folder with run_config.json)');
  const modelConfig = readJsonFile(path.join(modelDir, 'config.json'));
  const modelType = typeof modelConfig?.model_type === 'string' ? modelConfig.model_type : 'llama';
  const chatTemplate = resolveChatTemplate(modelDir, opts.run);
  // The exported folder trains the run's base model even when --model pointed elsewhere for the layer class.
  const exported = await exportTrl({ run, modelType, chatTemplate, out: opts.out });
  result.files.push(...exported.files);
  result.warnings.push(...exported.notes);
  result.details = { method: run.method, data_format: exported.dataKind ?? null, lora: !run.full };
}
