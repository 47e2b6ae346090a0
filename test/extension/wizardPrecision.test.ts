// The wizard and presets offer the base precision (issue 18): a preset picks the most exact precision
// whose estimate fits its memory — nf4 where only nf4 fits (Qwen2.5-3B on the wasm heap) — the review
// shows it with the estimate of each choice, and the trainer (and Resume) get it through run_config.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse, TRAIN_OPTIONS } from '../../src/cli/args';
import { resolveTrainConfig } from '../../src/cli/train';
import { estimateTraining, modelShapeFromConfig } from '../../src/core/estimate';
import { createRun } from '../../src/core/runStore';
import { serializeRunConfig, type RunConfig } from '../../src/core/runConfig';
import type { DatasetScan } from '../../src/extension/datasetScan';
import { trainArgs } from '../../src/extension/trainArgs';
import { runFineTuneWizard, type WizardServices } from '../../src/extension/wizard';
import type { InputOptions, PickOptions, WizardUI } from '../../src/extension/wizardFlow';
import { LLAMA32_1B, QWEN25_3B, QWEN3_06B } from '../helpers/realShapes';

type Answer = (options: PickOptions<unknown> | InputOptions) => unknown;

function scriptedUI(script: Answer[]): WizardUI & { shown: PickOptions<unknown>[] } {
  const shown: PickOptions<unknown>[] = [];
  const next = (options: PickOptions<unknown> | InputOptions): unknown => {
    if ('items' in options) shown.push(options);
    const answer = script.shift();
    if (!answer) throw new Error(`script ran out at: ${'placeholder' in options ? options.placeholder : options.prompt}`);
    return answer(options);
  };
  return {
    shown,
    pick: async <T>(options: PickOptions<T>) => next(options as PickOptions<unknown>) as T | undefined,
    input: async (options: InputOptions) => next(options) as string | undefined,
  };
}

const pick = (substring: string): Answer => (options) => {
  const item = (options as PickOptions<unknown>).items.find((i) => i.label.includes(substring));
  if (!item) throw new Error(`no item "${substring}" in ${(options as PickOptions<unknown>).items.map((i) => i.label).join(' | ')}`);
  return item.value;
};

/** The real config.json of a checkpoint (all its layers), as a model folder the wizard reads. */
const QWEN_3B_CONFIG = { ...QWEN25_3B.config, num_hidden_layers: 36 };
const LLAMA_1B_CONFIG = { ...LLAMA32_1B.config, num_hidden_layers: 16 };

function services(config: Record<string, unknown>, backend: WizardServices['backend'] = 'wasm'): WizardServices {
  return {
    knownModels: async () => [{ dir: '/models/base', label: 'base', source: 'workspace' }],
    pickModelFolder: async () => undefined,
    downloadHubModel: async () => undefined,
    checkModelFolder: () => undefined,
    readModelConfig: () => config,
    measuredThroughput: () => undefined,
    inform: () => {},
    backend,
    systemMemoryBytes: 16 * 2 ** 30,
  };
}

const SCAN: DatasetScan = { rows: 30, format: 'prompt-completion', fields: { prompt: 'question', completion: 'answer' }, columns: ['question', 'answer'], issues: [], issueCount: 0 };
const reviews = (ui: { shown: PickOptions<unknown>[] }) => ui.shown.filter((o) => o.placeholder?.startsWith('Start'));
const precisionItem = (review: PickOptions<unknown>) => review.items.find((i) => i.label === 'Base model precision');

/** What `ftune train` trains with when the extension launches the wizard's run, and on Resume. */
function launch(config: Omit<RunConfig, 'out'>): { started: RunConfig; resumed: RunConfig } {
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-wizard-precision-'));
  const { dir } = createRun(runsDir, 'run', config);
  const trainerSees = (argv: string[]) => resolveTrainConfig(parse(argv.slice(1), TRAIN_OPTIONS, 'usage').values);
  const started = trainerSees(trainArgs(dir));
  fs.writeFileSync(path.join(dir, 'run_config.json'), serializeRunConfig(started));
  return { started, resumed: trainerSees(trainArgs(dir, { resume: true })) };
}

/** Qwen/Qwen3-1.7B's config.json: 16-bit just past the wasm heap at the CPU preset, int8 well inside it. */
const QWEN3_17B_CONFIG = { ...QWEN3_06B.config, hidden_size: 2048, intermediate_size: 6144, num_hidden_layers: 28 };

/** The CPU preset's run (256 tokens, batch 1, checkpointing) of `config` at each precision, on `backend`. */
function cpuPresetBytes(config: Record<string, unknown>, backend: RunConfig['backend']): Record<RunConfig['quantize'], number> {
  const run = { shape: modelShapeFromConfig(config), full: false, lora_r: 8, lora_targets: 'all-linear' as const, batch_size: 1, grad_accum: 1, max_length: 256, steps: 1, backend, gradient_checkpointing: true };
  return { none: estimateTraining({ ...run, quantize: 'none' }).total_bytes, int8: estimateTraining({ ...run, quantize: 'int8' }).total_bytes, nf4: estimateTraining({ ...run, quantize: 'nf4' }).total_bytes };
}

test('CPU preset on the wasm heap: the most exact base that fits with the allocator\'s overhead — int8 for Qwen3-1.7B, nf4 for Qwen2.5-3B', async () => {
  const HEAP = 4 * 2 ** 30;
  const qwen3 = cpuPresetBytes(QWEN3_17B_CONFIG, 'wasm');
  assert.ok(qwen3.none > HEAP && qwen3.int8 <= HEAP, 'the case: 16-bit does not fit, int8 does');
  const first = await runFineTuneWizard(scriptedUI([pick('base'), pick('Supervised'), pick('Use'), pick('LoRA'), pick('CPU'), pick('Start')]), services(QWEN3_17B_CONFIG), '/d.jsonl', SCAN);
  assert.equal(first?.config.quantize, 'int8');
  // Qwen2.5-3B: int8's tensors (≈ 3.8 GiB) are under 4 GiB, but not with the heap's overhead on top
  const qwen3b = cpuPresetBytes(QWEN_3B_CONFIG, 'wasm');
  assert.ok(qwen3b.int8 > HEAP && qwen3b.nf4 <= HEAP, 'the case: only nf4 fits');
  const ui = scriptedUI([pick('base'), pick('Supervised'), pick('Use'), pick('LoRA'), pick('CPU'), pick('Make it fit'), pick('Start')]);
  const result = await runFineTuneWizard(ui, services(QWEN_3B_CONFIG), '/d.jsonl', SCAN);
  assert.ok(result);
  assert.equal(result.config.quantize, 'nf4');
  const [review, fitted] = reviews(ui);
  assert.equal(precisionItem(review)?.description, '4-bit (NF4, QLoRA)');
  // the rest of the fit keeps the results: only gradient checkpointing is left to switch on
  assert.match(review.items[0].description ?? '', /^gradient checkpointing → /);
  assert.equal(fitted.items[0].label, '$(play) Start training');
  assert.ok(result.estimate && result.estimate.total_bytes <= HEAP);
  const { started, resumed } = launch(result.config);
  assert.equal(started.quantize, 'nf4');
  assert.equal(resumed.quantize, 'nf4');
});

test('the cpu backend holds the base in float32: no precision to pick, no quantized base proposed, and --quantize refused there', async () => {
  // a machine with 3.5 GiB on the cpu backend: Qwen2.5-3B does not fit however it is set
  const small = { ...services(QWEN_3B_CONFIG, 'cpu'), systemMemoryBytes: 3.5 * 2 ** 30 };
  const ui = scriptedUI([pick('base'), pick('Supervised'), pick('Use'), pick('LoRA'), pick('CPU'), pick('Too big'), pick('Start')]);
  const result = await runFineTuneWizard(ui, small, '/d.jsonl', SCAN);
  assert.equal(result?.config.quantize, 'none');
  const [review] = reviews(ui);
  assert.equal(precisionItem(review), undefined);
  assert.equal(review.items[0].label, '$(warning) Too big for this backend');
  assert.throws(() => resolveTrainConfig(parse(['--model', 'm', '--data', 'd.jsonl', '--out', 'o', '--backend', 'cpu', '--quantize', 'nf4'], TRAIN_OPTIONS, 'usage').values),
    /--quantize nf4 needs kernels for packed weights \(--backend wasm or webgpu\); --backend cpu holds every weight in float32/);
});

test('a base that fits as stored keeps 16-bit; the GPU 8 GB preset holds Llama-3.2-1B in 16 bits', async () => {
  for (const preset of ['CPU', 'GPU 8']) {
    const ui = scriptedUI([pick('base'), pick('Supervised'), pick('Use'), pick('LoRA'), pick(preset), pick('Start')]);
    const result = await runFineTuneWizard(ui, services(LLAMA_1B_CONFIG, 'webgpu'), '/d.jsonl', SCAN);
    assert.equal(result?.config.quantize, 'none', preset);
    assert.equal(precisionItem(reviews(ui)[0])?.description, '16-bit (as stored)');
  }
});

test('the review offers every precision with its estimate; picking int8 is what the run trains with', async () => {
  const ui = scriptedUI([pick('base'), pick('Supervised'), pick('Use'), pick('LoRA'), pick('CPU'), pick('Base model precision'), pick('8-bit'), pick('Start')]);
  const result = await runFineTuneWizard(ui, services(LLAMA_1B_CONFIG), '/d.jsonl', SCAN);
  assert.equal(result?.config.quantize, 'int8');
  const choices = ui.shown.find((o) => o.placeholder?.startsWith('How the frozen base weights are held'));
  assert.ok(choices);
  assert.deepEqual(choices.items.map((i) => i.value), ['none', 'int8', 'nf4']);
  assert.equal(choices.active, 'none');
  // each choice shows the estimate at that precision: the same formatting as the review's total
  const shape = modelShapeFromConfig(LLAMA_1B_CONFIG);
  const bytes = choices.items.map((i) => estimateTraining({ ...inputOf(result!.config, shape), quantize: i.value as RunConfig['quantize'] }).total_bytes);
  assert.ok(bytes[0] > bytes[1] && bytes[1] > bytes[2]);
  for (const item of choices.items) assert.match(item.description ?? '', /^≈ [\d.]+ [KMG]B memory · /);
  assert.equal(precisionItem(reviews(ui)[1])?.description, '8-bit (int8)');
  assert.equal(launch(result!.config).started.quantize, 'int8');
});

test('full fine-tuning has no frozen base: no precision to pick, and quantize stays none', async () => {
  const tiny = { ...LLAMA_1B_CONFIG, hidden_size: 64, intermediate_size: 128, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, vocab_size: 256, num_hidden_layers: 2 };
  const ui = scriptedUI([pick('base'), pick('Supervised'), pick('Use'), pick('Full'), pick('CPU'), pick('Start')]);
  const result = await runFineTuneWizard(ui, services(tiny), '/d.jsonl', SCAN);
  assert.equal(result?.config.quantize, 'none');
  assert.equal(precisionItem(reviews(ui)[0]), undefined);
});

test('"Make it fit" reaches for a 4-bit base before it would drop long examples', async () => {
  // GPU 24 GB+ on wasm: batch 8 × 1024 tokens of Qwen2.5-3B, far above the heap
  const ui = scriptedUI([pick('base'), pick('Supervised'), pick('Use'), pick('LoRA'), pick('GPU 24'), pick('Make it fit'), pick('Start')]);
  const result = await runFineTuneWizard(ui, services(QWEN_3B_CONFIG), '/d.jsonl', SCAN);
  const [first] = reviews(ui);
  // the preset's 24 GB hold the 3B as stored; the wasm heap needs the 4-bit base, proposed before shorter sequences
  assert.equal(precisionItem(first)?.description, '16-bit (as stored)');
  assert.match(first.items[0].description ?? '', /^gradient checkpointing, batch 1 × accum 16, 4-bit \(NF4, QLoRA\) base(, max length \d+ \(longer examples are dropped\))? → /);
  assert.equal(result?.config.quantize, 'nf4');
  assert.ok(result?.estimate && result.estimate.total_bytes <= 4 * 2 ** 30);
});

function inputOf(config: Omit<RunConfig, 'out'>, shape: ReturnType<typeof modelShapeFromConfig>) {
  return {
    shape, full: config.full, lora_r: config.lora_r, lora_targets: config.lora_targets, batch_size: config.batch_size, grad_accum: config.grad_accum,
    max_length: config.max_length, steps: 1, backend: config.backend, gradient_checkpointing: config.gradient_checkpointing,
  };
}
