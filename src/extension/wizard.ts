// The "Fine-tune…" wizard: base model → method → data format/mapping → LoRA or full → preset →
// review (edit any field, see the estimate, name the run, start). Pure flow over WizardUI and
// WizardServices, so it is unit-tested with a scripted UI; vscodeWizardUI.ts supplies the real UI.

import * as path from 'path';
import { estimateTraining, formatBytes, formatCount, formatDuration, memoryLimit, modelShapeFromConfig, precisionThatFits, proposeFit, totalSteps, type Estimate, type EstimateInput, type FitSettings } from '../core/estimate';
import { formatParams, suggestHubModels } from '../core/hubSuggestions';
import { METHODS, methodSpec, type Method } from '../core/methods';
import { DEFAULT_RUN_CONFIG, describePrecision, holdsPackedWeights, PRECISIONS, type BackendName, type DataFormat, type RunConfig } from '../core/runConfig';
import { describeMapping, formatLabel, type DatasetScan } from './datasetScan';
import { EDITABLE_FIELDS, parseFieldValue, PRESETS, presetFields, type EditableField, type PresetId } from './presets';
import { describeEvalCost, evalCost } from './wizardEval';
import { BACK, outcomeOf, runSteps, type PickItem, type StepContext, type StepOutcome, type WizardUI } from './wizardFlow';

export interface ModelChoice {
  dir: string;
  label: string;
  source: 'recent' | 'workspace';
}

export interface WizardServices {
  /** recent and workspace model folders, most relevant first. */
  knownModels(): Promise<ModelChoice[]>;
  /** "Open a Hugging Face model folder…": a folder picker; undefined when dismissed. */
  pickModelFolder(): Promise<string | undefined>;
  /** downloads a Hub model (with progress and cancel); undefined when cancelled or failed (the service reports why). */
  downloadHubModel(repo: string): Promise<string | undefined>;
  /** an error message when `dir` is not a trainable model folder. */
  checkModelFolder(dir: string): string | undefined;
  /** parsed config.json of a model folder. */
  readModelConfig(dir: string): Record<string, unknown>;
  /** tokens/s measured by an earlier run of this model on this backend, if any. */
  measuredThroughput(model: string, backend: BackendName): number | undefined;
  /** shows a message (e.g. "DPO is not available yet") without leaving the wizard. */
  inform(message: string): void;
  backend: BackendName;
  /** this machine's memory (os.totalmem()): the limit of the cpu and tensorflow backends. */
  systemMemoryBytes: number;
  /** the rows of a golden set (from Split Dataset) beside the data file, if there is one. */
  goldenSetBeside?(dataFile: string): { file: string; rows: number } | undefined;
}

export interface WizardResult {
  name: string;
  config: Omit<RunConfig, 'out'>;
  estimate?: Estimate;
}

/** What every step reads and does not change: the UI, the services, the data file and its scan. */
interface WizardEnv {
  ui: WizardUI;
  services: WizardServices;
  dataFile: string;
  scan: DatasetScan;
  now: Date;
  /** the golden set beside the data file (Split Dataset), if any. */
  golden?: { file: string; rows: number };
}

interface WizardState {
  readonly env: WizardEnv;
  model?: string;
  method: Method;
  format: Exclude<DataFormat, 'auto' | 'preference'> | 'preference';
  fields: Record<string, string>;
  full: boolean;
  preset: PresetId;
  config: Omit<RunConfig, 'out'>;
  name?: string;
  started: boolean;
}

const TITLE = 'Fine-tune';

type ModelPick = { kind: 'dir'; dir: string } | { kind: 'folder' } | { kind: 'hub' };
type ReviewPick = { kind: 'eval' } | { kind: 'start' } | { kind: 'edit'; key: EditableField['key'] } | { kind: 'name' } | { kind: 'fit' } | { kind: 'too-big' } | { kind: 'precision' };

export async function runFineTuneWizard(ui: WizardUI, services: WizardServices, dataFile: string, scan: DatasetScan, now = new Date(), initialMethod: Method = 'sft'): Promise<WizardResult | undefined> {
  const state: WizardState = {
    env: { ui, services, dataFile, scan, now, golden: services.goldenSetBeside?.(dataFile) },
    // the arena's "Train DPO on these votes" opens the wizard with DPO chosen
    method: initialMethod,
    format: scan.format === 'unknown' ? 'prompt-completion' : scan.format,
    fields: { ...scan.fields },
    full: false,
    preset: 'cpu-small',
    config: { ...DEFAULT_RUN_CONFIG, method: initialMethod, model: '', data: dataFile, backend: services.backend },
    started: false,
  };
  const completed = await runSteps([chooseModel, chooseMethod, chooseFormat, chooseLora, choosePreset, chooseEvaluation, review], state);
  if (!completed || !state.started || !state.name) return undefined;
  return { name: state.name, config: { ...state.config }, estimate: estimateFor(state, services, scan.rows) };
}

/** Step 1: the base model — a known folder, a folder picked, or a Hub download (suggestions that fit the preset first). */
async function chooseModel(s: WizardState, ctx: StepContext): Promise<StepOutcome> {
  const { ui, services } = s.env;
  const known = await services.knownModels();
  const items: PickItem<ModelPick>[] = [
    ...known.map((m) => ({ label: `$(folder) ${m.label}`, description: m.source === 'recent' ? 'recent' : 'in this workspace', detail: m.dir, value: { kind: 'dir' as const, dir: m.dir } })),
    { label: '$(folder-opened) Open a Hugging Face model folder…', description: 'config.json + tokenizer + safetensors', value: { kind: 'folder' } },
    { label: '$(cloud-download) Download from the Hugging Face Hub…', description: 'e.g. Qwen/Qwen2.5-0.5B-Instruct', value: { kind: 'hub' } },
  ];
  const active = items.find((i) => i.value.kind === 'dir' && i.value.dir === s.model)?.value;
  const answer = await ui.pick({ title: TITLE, ...ctx, placeholder: 'Base model to fine-tune', items, active });
  if (answer === undefined) return 'cancel';
  if (answer === BACK) return 'back';
  let dir: string | undefined;
  if (answer.kind === 'dir') dir = answer.dir;
  else if (answer.kind === 'folder') dir = await services.pickModelFolder();
  else {
    const repo = await pickHubModel(s, ctx);
    if (repo === 'cancel' || repo === 'repeat') return repo;
    dir = await services.downloadHubModel(repo);
  }
  if (!dir) return 'repeat';
  const problem = services.checkModelFolder(dir);
  if (problem) {
    services.inform(problem);
    return 'repeat';
  }
  s.model = dir;
  s.config.model = dir;
  return 'next';
}

/** The Hub branch of step 1: a suggested model id or one typed by hand. */
async function pickHubModel(s: WizardState, ctx: StepContext): Promise<string | 'cancel' | 'repeat'> {
  const { ui, services } = s.env;
  // Current small models, those that fit the preset's memory first; any other id by hand.
  const budget = presetMemory(s.preset, services.systemMemoryBytes);
  const presetLabel = PRESETS.find((p) => p.id === s.preset)?.label ?? s.preset;
  const suggestions: PickItem<string | null>[] = suggestHubModels(budget).map((m) => ({
    label: `${m.fits ? '$(check)' : '$(warning)'} ${m.id}`,
    description: `${formatParams(m.params)} · ${m.license}${m.gated ? ' · gated (accept on the Hub)' : ''}`,
    detail: m.fits ? `fits ${presetLabel} (about ${formatBytes(m.needBytes)} to train with LoRA)` : `needs about ${formatBytes(m.needBytes)}, more than ${presetLabel} has (${formatBytes(budget)})`,
    value: m.id,
  }));
  suggestions.push({ label: '$(edit) Another model id…', description: 'any owner/name on the Hub', value: null });
  const chosen = await ui.pick({ title: `${TITLE}: Hugging Face Hub`, ...ctx, canBack: true, placeholder: `Suggested small models (memory budget of ${presetLabel})`, items: suggestions });
  if (chosen === undefined) return 'cancel';
  if (chosen === BACK) return 'repeat';
  const repo = chosen !== null ? chosen : await ui.input({
    title: `${TITLE}: Hugging Face Hub`, ...ctx, canBack: true, prompt: 'Model id on the Hub (owner/name)', value: '', placeholder: 'Qwen/Qwen2.5-0.5B-Instruct',
    validate: (v) => (/^[\w.-]+\/[\w.-]+$/.test(v.trim()) ? undefined : 'enter owner/name'),
  });
  if (repo === undefined) return 'cancel';
  if (repo === BACK) return 'repeat';
  return repo.trim();
}

/** Step 2: the method, from the registry; one that cannot train on the detected format is refused with the reason. */
async function chooseMethod(s: WizardState, ctx: StepContext): Promise<StepOutcome> {
  const { ui, services, scan, dataFile } = s.env;
  const items = METHODS.map((m) => ({ label: m.label, description: m.description, value: m.id }));
  const answer = await ui.pick({ title: TITLE, ...ctx, placeholder: 'Training method', items, active: s.method });
  if (answer === undefined || answer === BACK) return outcomeOf(answer, () => undefined);
  const info = methodSpec(answer);
  if (scan.format !== 'unknown' && !info.formats.includes(scan.format)) {
    services.inform(`${info.label} trains on ${info.formats.map((f) => formatLabel(f)).join(' or ')} data; ${path.basename(dataFile)} is ${formatLabel(scan.format)}.`);
    return 'repeat';
  }
  s.method = answer;
  s.config.method = answer;
  Object.assign(s.config, info.defaults);
  return 'next';
}

/** Step 3: the detected format and mapping, or columns mapped by hand. */
async function chooseFormat(s: WizardState, ctx: StepContext): Promise<StepOutcome> {
  const { ui, scan, dataFile } = s.env;
  type FormatPick = { kind: 'detected' } | { kind: 'map' };
  const detected = scan.format !== 'unknown';
  const items: PickItem<FormatPick>[] = [];
  if (detected) {
    const mapping = describeMapping(scan.fields);
    items.push({ label: `Use ${formatLabel(scan.format)}`, description: mapping || 'fields already named as expected', detail: `${scan.rows} rows in ${path.basename(dataFile)}${scan.issueCount ? `, ${scan.issueCount} with problems (skipped by the trainer)` : ''}`, value: { kind: 'detected' } });
  }
  items.push({ label: 'Map columns by hand…', description: scan.columns.length ? `columns: ${scan.columns.join(', ')}` : undefined, value: { kind: 'map' } });
  const answer = await ui.pick({ title: TITLE, ...ctx, placeholder: detected ? `Detected ${formatLabel(scan.format)}` : 'Format not recognised: map the columns', items });
  if (answer === undefined || answer === BACK) return outcomeOf(answer, () => undefined);
  if (answer.kind === 'detected') {
    s.format = scan.format as WizardState['format'];
    s.fields = { ...scan.fields };
  } else {
    const mapped = await mapColumns(ui, ctx, scan.columns);
    if (mapped === undefined) return 'cancel';
    if (mapped === BACK) return 'repeat';
    s.format = mapped.format;
    s.fields = mapped.fields;
  }
  s.config.format = s.format;
  s.config.fields = { ...s.fields };
  return 'next';
}

/** Step 4: LoRA or full fine-tuning (skipped for the LoRA-only methods). */
async function chooseLora(s: WizardState, ctx: StepContext): Promise<StepOutcome> {
  const { ui } = s.env;
  if (methodSpec(s.method).lora_only) {
    // Their reference model is the base with the adapter switched off: LoRA only.
    s.full = false;
    s.config.full = false;
    return 'skip';
  }
  const answer = await ui.pick({
    title: TITLE, ...ctx, placeholder: 'What to train', active: s.full,
    items: [
      { label: 'LoRA adapter', description: `rank ${s.config.lora_r}, all linear layers — small, fast, the base model stays as is`, value: false },
      { label: 'Full fine-tuning', description: 'every weight — needs ~4× the model size in memory', value: true },
    ],
  });
  return outcomeOf(answer, (full) => {
    s.full = full;
    s.config.full = full;
    // every weight trains in float32: there is no frozen base to quantize
    if (full) s.config.quantize = 'none';
  });
}

/** Step 5: the hardware preset (batch, accumulation, length, lr, epochs; each editable at the review). */
async function choosePreset(s: WizardState, ctx: StepContext): Promise<StepOutcome> {
  const { ui, services, scan } = s.env;
  const items = PRESETS.map((p) => {
    const f = presetFields(p.id, s.full);
    return { label: p.label, description: p.description, detail: `batch ${f.batch_size} × accum ${f.grad_accum}, ${f.max_length} tokens, lr ${f.lr}, ${f.epochs} epoch${f.epochs === 1 ? '' : 's'}`, value: p.id };
  });
  const answer = await ui.pick({ title: TITLE, ...ctx, placeholder: 'Hardware preset (every field can be edited next)', items, active: s.preset });
  return outcomeOf(answer, (id) => {
    s.preset = id;
    Object.assign(s.config, presetFields(id, s.full));
    // the most exact base precision whose estimate fits the preset's memory (nf4 where only nf4 fits)
    const input = estimateInputFor(s, services, scan.rows);
    if (input) s.config.quantize = precisionThatFits(input, presetBudget(id, s.config.backend, services.systemMemoryBytes));
  });
}

/**
 * Step 6: a golden set beside the data (Split Dataset): exact match on it at every evaluation, from the
 * base model on, and the best checkpoint kept by it — preselected.
 */
async function chooseEvaluation(s: WizardState, ctx: StepContext): Promise<StepOutcome> {
  const { ui, golden } = s.env;
  if (!golden || (s.method !== 'sft' && s.method !== 'cpt')) return 'skip';
  const answer = await ui.pick({
    title: TITLE, ...ctx, placeholder: `Golden set found: ${path.basename(golden.file)} (${golden.rows} rows)`,
    // preselected until the user turns it off (an empty list)
    active: s.config.eval_metrics === undefined || s.config.eval_metrics.length > 0 ? 'exact-match' : 'none',
    items: [
      { label: 'Exact match on the golden set', description: 'answers generated at step 0, every evaluation and the end; the best checkpoint kept as best/', detail: golden.file, value: 'exact-match' as const },
      { label: 'Eval loss only', description: 'no generation during training', value: 'none' as const },
    ],
  });
  return outcomeOf(answer, (choice) => {
    if (choice === 'exact-match') Object.assign(s.config, { eval_metrics: ['exact-match'], golden: golden.file, best_metric: 'exact_match' });
    else Object.assign(s.config, { eval_metrics: [], golden: undefined, best_metric: undefined });
  });
}

/** Step 7: the review — start, name the run, edit any field, see the estimate, make it fit. */
async function review(s: WizardState, ctx: StepContext): Promise<StepOutcome> {
  const { ui, services, scan, now, golden } = s.env;
  s.name ??= defaultRunName(s.config.model, s.method, now);
  const input = estimateInputFor(s, services, scan.rows);
  const estimate = input ? estimateTraining(input) : undefined;
  const steps = totalSteps(examplesFor(s, scan.rows), s.config);
  const summary = estimate ? `≈ ${formatBytes(estimate.total_bytes)} memory · ≈ ${formatDuration(estimate.total_seconds)} for ${steps} steps · ${formatCount(estimate.trainable_parameters)} trainable parameters` : `${steps} steps`;
  // Too big for the backend's memory: say so first, with the smallest change that fits (one pick applies it).
  const limit = memoryLimit(s.config.backend, services.systemMemoryBytes);
  const tooBig = input && estimate && limit && estimate.total_bytes > limit.bytes ? limit : undefined;
  const fit = tooBig && input ? proposeFit(input, tooBig.bytes) : undefined;
  const warning: PickItem<ReviewPick>[] = !tooBig || !estimate ? [] : fit
    ? [{ label: '$(warning) Make it fit in memory', description: `${describeFit(fit, s.config)} → ≈ ${formatBytes(fit.total_bytes)}`, detail: `≈ ${formatBytes(estimate.total_bytes)} is more than ${tooBig.what}`, value: { kind: 'fit' } }]
    : [{ label: '$(warning) Too big for this backend', description: `≈ ${formatBytes(estimate.total_bytes)} is more than ${tooBig.what}, even at batch 1`, detail: 'Use LoRA instead of full fine-tuning, a smaller model, or a GPU backend (Finetune Studio: Check GPU)', value: { kind: 'too-big' } }];
  const generating = golden && s.config.eval_metrics?.length ? golden : undefined;
  const maxNewTokens = s.config.eval_max_new_tokens ?? 128;
  const cost = generating ? evalCost({ goldenRows: generating.rows, limit: s.config.eval_generate_limit ?? 64, maxNewTokens, steps, evalEvery: s.config.eval_every }) : undefined;
  const items: PickItem<ReviewPick>[] = [
    ...warning,
    { label: '$(play) Start training', description: summary, detail: `${path.basename(s.config.model)} · ${s.method.toUpperCase()} · ${s.full ? 'full' : `LoRA r=${s.config.lora_r}`} · ${formatLabel(s.format as DatasetScan['format'])}`, value: { kind: 'start' } },
    ...(cost ? [{ label: '$(beaker) Exact match while training', description: describeEvalCost(cost, maxNewTokens), detail: generating!.file, value: { kind: 'eval' as const } }] : []),
    { label: 'Run name', description: s.name, value: { kind: 'name' } },
    ...(s.full || !holdsPackedWeights(s.config.backend) ? [] : [{ label: 'Base model precision', description: describePrecision(s.config.quantize), value: { kind: 'precision' as const } }]),
    ...EDITABLE_FIELDS.filter((f) => appliesTo(f, s.method)).map((f) => ({ label: f.label, description: String(s.config[f.key]), value: { kind: 'edit' as const, key: f.key } })),
  ];
  const answer = await ui.pick({ title: `${TITLE}: review`, ...ctx, placeholder: 'Start, or pick a field to change it', items });
  if (answer === undefined || answer === BACK) return outcomeOf(answer, () => undefined);
  if (answer.kind === 'start') {
    s.started = true;
    return 'next';
  }
  if (answer.kind === 'fit' && fit) {
    const { total_bytes: _, ...settings } = fit;
    Object.assign(s.config, settings);
    return 'repeat';
  }
  if (answer.kind === 'fit' || answer.kind === 'too-big' || answer.kind === 'eval') return 'repeat';
  if (answer.kind === 'precision') {
    const precision = await ui.pick({
      title: `${TITLE}: base model precision`, ...ctx, canBack: true, active: s.config.quantize,
      placeholder: 'How the frozen base weights are held (the adapter always trains in float32)',
      items: PRECISIONS.map((p) => {
        const bytes = input ? estimateTraining({ ...input, quantize: p.quantize }).total_bytes : undefined;
        return { label: p.label, description: bytes === undefined ? p.description : `≈ ${formatBytes(bytes)} memory · ${p.description}`, value: p.quantize };
      }),
    });
    if (precision === undefined) return 'cancel';
    if (precision !== BACK) s.config.quantize = precision;
    return 'repeat';
  }
  if (answer.kind === 'name') {
    const name = await ui.input({ title: `${TITLE}: run name`, ...ctx, canBack: true, prompt: 'Run name (letters, digits, . _ -)', value: s.name, validate: (v) => (v.trim() ? undefined : 'the run needs a name') });
    if (name === undefined) return 'cancel';
    if (name !== BACK) s.name = name.trim();
    return 'repeat';
  }
  const field = EDITABLE_FIELDS.find((f) => f.key === answer.key)!;
  const typed = await ui.input({
    title: `${TITLE}: ${field.label}`, ...ctx, canBack: true, prompt: field.label, value: String(s.config[field.key]),
    validate: (v) => { const parsed = parseFieldValue(field, v); return typeof parsed === 'string' ? parsed : undefined; },
  });
  if (typed === undefined) return 'cancel';
  if (typed !== BACK) s.config[field.key] = parseFieldValue(field, typed) as number;
  return 'repeat';
}

/** Method-specific fields (beta, GRPO's generation settings) are shown only for the methods that use them. */
function appliesTo(field: EditableField, method: Method): boolean {
  if (field.only === 'beta') return methodSpec(method).uses_beta;
  if (field.only === 'generation') return methodSpec(method).uses_generation;
  return true;
}

/** Column mapping by hand: pick the format, then a column for each of its fields. */
async function mapColumns(ui: WizardUI, ctx: { step: number; totalSteps: number }, columns: readonly string[]): Promise<{ format: 'prompt-completion' | 'text' | 'messages'; fields: Record<string, string> } | typeof BACK | undefined> {
  const format = await ui.pick({
    title: `${TITLE}: map columns`, ...ctx, canBack: true, placeholder: 'Which format is this data?',
    items: [
      { label: 'prompt → completion', description: 'loss on the completion only', value: 'prompt-completion' as const },
      { label: 'chat messages', description: 'a list of {role, content}', value: 'messages' as const },
      { label: 'plain text', description: 'loss on every token', value: 'text' as const },
    ],
  });
  if (format === undefined || format === BACK) return format;
  const keys = format === 'prompt-completion' ? ['prompt', 'completion'] : format === 'messages' ? ['messages'] : ['text'];
  const fields: Record<string, string> = {};
  for (const key of keys) {
    const column = await ui.pick({ title: `${TITLE}: map columns`, ...ctx, canBack: true, placeholder: `Column for "${key}"`, items: columns.map((c) => ({ label: c, value: c })) });
    if (column === undefined || column === BACK) return column;
    if (column !== key) fields[key] = column;
  }
  return { format, fields };
}

function examplesFor(s: WizardState, rows: number): number {
  return s.config.limit > 0 ? Math.min(s.config.limit, rows) : rows;
}

function estimateInputFor(s: WizardState, services: WizardServices, rows: number): EstimateInput | undefined {
  try {
    const shape = modelShapeFromConfig(services.readModelConfig(s.config.model));
    return {
      shape, full: s.full, lora_r: s.config.lora_r, lora_targets: s.config.lora_targets, batch_size: s.config.batch_size,
      grad_accum: s.config.grad_accum, max_length: s.config.max_length, steps: totalSteps(examplesFor(s, rows), s.config),
      backend: s.config.backend, gradient_checkpointing: s.config.gradient_checkpointing, quantize: s.config.quantize,
      measured_tokens_per_second: services.measuredThroughput(s.config.model, s.config.backend),
    };
  } catch {
    return undefined; // a config the estimate does not understand: the wizard still works without one
  }
}

function estimateFor(s: WizardState, services: WizardServices, rows: number): Estimate | undefined {
  const input = estimateInputFor(s, services, rows);
  return input ? estimateTraining(input) : undefined;
}

/** e.g. "gradient checkpointing, batch 1 × accum 32" */
function describeFit(fit: FitSettings, config: Pick<RunConfig, keyof FitSettings>): string {
  const parts: string[] = [];
  if (fit.gradient_checkpointing && !config.gradient_checkpointing) parts.push('gradient checkpointing');
  if (fit.batch_size !== config.batch_size) parts.push(`batch ${fit.batch_size} × accum ${fit.grad_accum}`);
  if (fit.quantize !== config.quantize) parts.push(`${describePrecision(fit.quantize)} base`);
  if (fit.max_length !== config.max_length) parts.push(`max length ${fit.max_length} (longer examples are dropped)`);
  return parts.join(', ');
}

/** e.g. tiny-gsm8k-base-sft-20261124-2311 */
export function defaultRunName(model: string, method: Method, now: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}`;
  return `${path.basename(model) || 'model'}-${method}-${stamp}`;
}

export type { StepOutcome };

/** What a preset's run may use: the card's memory for the GPU presets; for the CPU preset the machine's, within the backend's own limit (wasm: 4 GiB). */
export function presetBudget(preset: PresetId, backend: BackendName, systemMemoryBytes: number): number {
  const memory = presetMemory(preset, systemMemoryBytes);
  if (preset !== 'cpu-small') return memory;
  return Math.min(memory, memoryLimit(backend, systemMemoryBytes)?.bytes ?? memory);
}

/** Memory a preset has for training: the machine's for CPU, the card's for the GPU presets. */
export function presetMemory(preset: PresetId, systemMemoryBytes: number): number {
  if (preset === 'gpu-8gb') return 8 * 2 ** 30;
  if (preset === 'gpu-24gb') return 24 * 2 ** 30;
  return systemMemoryBytes;
}
