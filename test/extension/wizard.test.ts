import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { runFineTuneWizard, defaultRunName, type WizardServices } from '../../src/extension/wizard';
import * as os from 'os';
import { trainArgs } from '../../src/extension/trainArgs';
import { createRun } from '../../src/core/runStore';
import { serializeRunConfig, type RunConfig } from '../../src/core/runConfig';
import { parse, TRAIN_OPTIONS } from '../../src/cli/args';
import { resolveTrainConfig } from '../../src/cli/train';
import { BACK, runSteps, type InputOptions, type PickOptions, type WizardUI } from '../../src/extension/wizardFlow';
import type { DatasetScan } from '../../src/extension/datasetScan';
import { evalCost, goldenCandidates } from '../../src/extension/wizardEval';
import { EVAL_DURING_TRAINING_OPTIONS } from '../../src/cli/evalArgs';

const TINY = path.resolve(__dirname, '..', '..', '..', '..', 'shared', 'models', 'tiny-gsm8k-base');

type Answer = (options: PickOptions<unknown> | InputOptions) => unknown;

/** A UI that answers from a script and records what it was shown. */
function scriptedUI(script: Answer[]): WizardUI & { shown: (PickOptions<unknown> | InputOptions)[] } {
  const shown: (PickOptions<unknown> | InputOptions)[] = [];
  const next = (options: PickOptions<unknown> | InputOptions): unknown => {
    shown.push(options);
    const answer = script.shift();
    if (!answer) throw new Error(`script ran out at: ${'placeholder' in options ? options.placeholder : options.prompt}`);
    return answer(options);
  };
  return {
    shown,
    pick: async <T>(options: PickOptions<T>) => next(options as PickOptions<unknown>) as T | typeof BACK | undefined,
    input: async (options: InputOptions) => next(options) as string | typeof BACK | undefined,
  };
}

const pick = (substring: string): Answer => (options) => {
  const item = (options as PickOptions<unknown>).items.find((i) => i.label.includes(substring));
  if (!item) throw new Error(`no item "${substring}" in ${(options as PickOptions<unknown>).items.map((i) => i.label).join(' | ')}`);
  return item.value;
};
const type = (text: string): Answer => (options) => {
  const error = (options as InputOptions).validate(text);
  if (error) throw new Error(`validation refused ${text}: ${error}`);
  return text;
};
const back: Answer = () => BACK;
const cancel: Answer = () => undefined;

function services(messages: string[] = []): WizardServices {
  return {
    knownModels: async () => [{ dir: TINY, label: 'tiny-gsm8k-base', source: 'workspace' }],
    pickModelFolder: async () => TINY,
    downloadHubModel: async () => undefined,
    checkModelFolder: (dir) => (fs.existsSync(path.join(dir, 'config.json')) ? undefined : `${dir}: no config.json`),
    readModelConfig: (dir) => JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>,
    measuredThroughput: () => undefined,
    inform: (m) => messages.push(m),
    backend: 'cpu',
    systemMemoryBytes: 16 * 2 ** 30,
  };
}

const GSM8K_SCAN: DatasetScan = { rows: 30, format: 'prompt-completion', fields: { prompt: 'question', completion: 'answer' }, columns: ['question', 'answer'], issues: [], issueCount: 0 };

test('the wizard completes for GSM8K with a Back detour and an edited field', async () => {
  const ui = scriptedUI([
    pick('tiny-gsm8k-base'),       // 1 model
    back,                          // 2 method → back to model
    pick('tiny-gsm8k-base'),       // 1 model again
    pick('Supervised'),            // 2 method
    pick('Use prompt → completion'), // 3 format
    pick('LoRA'),                  // 4 LoRA or full
    pick('CPU'),                   // 5 preset
    pick('Max steps'),             // 6 review → edit max steps
    type('4'),
    pick('Start training'),        // 6 review → start
  ]);
  const result = await runFineTuneWizard(ui, services(), '/data/gsm8k.jsonl', GSM8K_SCAN, new Date(2026, 10, 24, 23, 11));
  assert.ok(result);
  assert.equal(result.name, 'tiny-gsm8k-base-sft-20261124-2311');
  assert.equal(result.config.model, TINY);
  assert.equal(result.config.data, '/data/gsm8k.jsonl');
  assert.equal(result.config.method, 'sft');
  assert.equal(result.config.format, 'prompt-completion');
  assert.deepEqual(result.config.fields, { prompt: 'question', completion: 'answer' });
  assert.equal(result.config.full, false);
  assert.equal(result.config.batch_size, 1);
  assert.equal(result.config.grad_accum, 8);
  assert.equal(result.config.max_steps, 4);
  assert.equal(result.config.backend, 'cpu');
  assert.ok(result.estimate && result.estimate.total_bytes > 0);
  // Back is offered everywhere but on the first step
  const picks = ui.shown as PickOptions<unknown>[];
  assert.equal(picks[0].canBack, false);
  assert.equal(picks[1].canBack, true);
  assert.equal(picks[2].step, 1, 'Back returned to the model step');
  // the review step shows the estimate and the edited value
  const lastReview = picks[picks.length - 1];
  assert.match(lastReview.items[0].description ?? '', /memory.*4 steps/);
  assert.equal(lastReview.items.find((i) => i.label.startsWith('Max steps'))?.description, '4');
});

test('a method whose data format does not match is explained and asked again; full fine-tuning lowers the lr', async () => {
  const messages: string[] = [];
  const ui = scriptedUI([pick('tiny'), pick('DPO'), pick('Supervised'), pick('Use'), pick('Full'), pick('GPU 24'), pick('Start')]);
  const result = await runFineTuneWizard(ui, services(messages), '/d.jsonl', GSM8K_SCAN);
  assert.match(messages[0], /DPO\) trains on preference pairs data; d\.jsonl is prompt → completion/);
  assert.equal(result?.config.full, true);
  assert.equal(result?.config.lr, 2e-5);
  assert.equal(result?.config.max_length, 1024);
});

test('DPO on preference data trains a LoRA adapter without asking LoRA-or-full', async () => {
  const prefs: DatasetScan = { rows: 2, format: 'preference', fields: {}, columns: ['prompt', 'chosen', 'rejected'], issues: [], issueCount: 0 };
  const ui = scriptedUI([pick('tiny'), pick('DPO'), pick('Use'), pick('CPU'), pick('Start')]);
  const result = await runFineTuneWizard(ui, services(), '/p.jsonl', prefs);
  assert.equal(result?.config.method, 'dpo');
  assert.equal(result?.config.full, false);
});

test('columns can be mapped by hand when the format is not recognised', async () => {
  const odd: DatasetScan = { rows: 1, format: 'unknown', fields: {}, columns: ['q', 'a'], issues: [{ line: 1, reason: 'cannot tell the data format' }], issueCount: 1 };
  const ui = scriptedUI([pick('tiny'), pick('Supervised'), pick('Map columns'), pick('prompt → completion'), pick('q'), pick('a'), pick('LoRA'), pick('CPU'), pick('Start')]);
  const result = await runFineTuneWizard(ui, services(), '/d.jsonl', odd);
  assert.deepEqual(result?.config.fields, { prompt: 'q', completion: 'a' });
  assert.equal(result?.config.format, 'prompt-completion');
});

test('a folder that is not a model is refused and the model step asked again; Escape cancels', async () => {
  const messages: string[] = [];
  const s = { ...services(messages), pickModelFolder: async () => '/nowhere' };
  const ui = scriptedUI([pick('Open a Hugging Face model folder'), cancel]);
  assert.equal(await runFineTuneWizard(ui, s, '/d.jsonl', GSM8K_SCAN), undefined);
  assert.match(messages[0], /no config.json/);
  assert.equal(ui.shown.length, 2);
});

/** config.json of Qwen2.5-0.5B (the shape, no weights needed for an estimate). */
const QWEN_05B = {
  model_type: 'qwen2', hidden_size: 896, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2,
  intermediate_size: 4864, vocab_size: 151936, tie_word_embeddings: true, max_position_embeddings: 32768,
};

test('a run too big for the wasm heap is flagged in review; one pick applies the smallest change that fits', async () => {
  const s: WizardServices = {
    ...services(), backend: 'wasm',
    knownModels: async () => [{ dir: '/models/Qwen2.5-0.5B', label: 'Qwen2.5-0.5B', source: 'workspace' }],
    checkModelFolder: () => undefined,
    readModelConfig: () => QWEN_05B,
  };
  // GPU 24 GB+ preset: batch 8 × 1024 tokens — tens of GB of activations on a backend with a 4 GB heap.
  const ui = scriptedUI([pick('Qwen2.5-0.5B'), pick('Supervised'), pick('Use'), pick('LoRA'), pick('GPU 24'), pick('Make it fit'), pick('Start')]);
  const result = await runFineTuneWizard(ui, s, '/d.jsonl', GSM8K_SCAN);
  const reviews = (ui.shown as PickOptions<unknown>[]).filter((o) => o.placeholder?.startsWith('Start'));
  const [first, second] = reviews;
  assert.match(first.items[0].detail ?? '', /is more than the wasm backend's 4 GB heap/);
  assert.match(first.items[0].description ?? '', /^gradient checkpointing, batch \d+ × accum \d+/);
  assert.ok(!second.items[0].label.includes('Make it fit'), 'after the change the warning is gone');
  assert.ok(result);
  const c = result.config;
  assert.equal(c.gradient_checkpointing, true);
  assert.equal(c.batch_size * c.grad_accum >= 8, true, 'the effective batch is kept');
  assert.ok(c.batch_size < 8);
  assert.ok(result.estimate && result.estimate.total_bytes <= 4 * 2 ** 30, `fits: ${result.estimate?.total_bytes}`);
  assert.equal(launch(c).started.gradient_checkpointing, true, 'the trainer is told');
});

test('full fine-tuning of a model whose weights alone overflow the heap: no fix to offer, and the review says why', async () => {
  const big = { ...QWEN_05B, hidden_size: 2048, num_hidden_layers: 16, num_attention_heads: 32, num_key_value_heads: 8, intermediate_size: 8192, vocab_size: 128256 };
  const s: WizardServices = { ...services(), backend: 'wasm', checkModelFolder: () => undefined, readModelConfig: () => big, knownModels: async () => [{ dir: '/m/llama-1b', label: 'llama-1b', source: 'workspace' }] };
  const ui = scriptedUI([pick('llama-1b'), pick('Supervised'), pick('Use'), pick('Full'), pick('CPU'), pick('Too big'), pick('Start')]);
  const result = await runFineTuneWizard(ui, s, '/d.jsonl', GSM8K_SCAN);
  const review = (ui.shown as PickOptions<unknown>[]).find((o) => o.placeholder?.startsWith('Start'));
  assert.match(review?.items[0].description ?? '', /is more than the wasm backend's 4 GB heap, even at batch 1/);
  assert.match(review?.items[0].detail ?? '', /LoRA instead of full fine-tuning.*Check GPU/);
  assert.equal(result?.config.gradient_checkpointing, false, 'nothing was changed behind the user\'s back');
});

test('on the cpu backend the limit is the machine\'s memory, and a small run gets no warning', async () => {
  const ui = scriptedUI([pick('tiny'), pick('Supervised'), pick('Use'), pick('LoRA'), pick('CPU'), pick('Start')]);
  await runFineTuneWizard(ui, services(), '/d.jsonl', GSM8K_SCAN);
  const review = (ui.shown as PickOptions<unknown>[]).find((o) => o.placeholder?.startsWith('Start'));
  assert.equal(review?.items[0].label, '$(play) Start training');
});

test('runSteps: skipped steps are passed over in both directions', async () => {
  const visits: string[] = [];
  // a: next, c: next, d: back, c: back (b is skipped backwards), a: next, c: next, d: next
  const answers = ['next', 'next', 'back', 'back', 'next', 'next', 'next'];
  const step = (name: string) => async () => (visits.push(name), answers.shift() as 'next' | 'back');
  const skip = (name: string) => async () => (visits.push(name), 'skip' as const);
  const done = await runSteps([step('a'), skip('b'), step('c'), step('d')], {});
  assert.equal(done, true);
  assert.deepEqual(visits, ['a', 'b', 'c', 'd', 'c', 'b', 'a', 'b', 'c', 'd']);
  assert.equal(answers.length, 0);
});

/**
 * What `ftune train` trains with when the extension launches a wizard run, and when it resumes it: the
 * run is created in a runs folder, its command line is parsed by the CLI's own parser.
 */
function launch(config: Omit<RunConfig, 'out'>): { expected: RunConfig; started: RunConfig; resumed: RunConfig } {
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-wizard-launch-'));
  const { dir, config: expected } = createRun(runsDir, 'run', config);
  const trainerSees = (argv: string[]) => resolveTrainConfig(parse(argv.slice(1), TRAIN_OPTIONS, 'usage').values);
  const started = trainerSees(trainArgs(dir));
  // the trainer rewrites run_config.json with what it trained; Resume reads that back
  fs.writeFileSync(path.join(dir, 'run_config.json'), serializeRunConfig(started));
  const resumed = trainerSees(trainArgs(dir, { resume: true }));
  return { expected, started, resumed };
}

test('a GRPO run from the wizard passes its generation settings and beta to the trainer; Resume sees the same config', async () => {
  const ui = scriptedUI([
    pick('tiny'), pick('GRPO'), pick('Use'), pick('CPU'),
    pick('Completions sampled per prompt'), type('6'),
    pick('Max completion length'), type('96'),
    pick('Sampling temperature'), type('0.7'),
    pick('Beta'), type('0.04'),
    pick('Start'),
  ]);
  const result = await runFineTuneWizard(ui, services(), '/data/gsm8k.jsonl', GSM8K_SCAN);
  assert.ok(result);
  const { expected, started, resumed } = launch(result.config);
  assert.equal(started.method, 'grpo');
  assert.equal(started.num_generations, 6);
  assert.equal(started.max_completion_length, 96);
  assert.equal(started.temperature, 0.7);
  assert.equal(started.beta, 0.04);
  assert.equal(started.reward, 'exact-match');
  assert.deepEqual(started, expected, 'the trainer trains with exactly the wizard\'s configuration');
  assert.deepEqual(resumed, started, 'Resume trains with the same configuration');
});

test('the review offers only the knobs the method uses', async () => {
  const ui = scriptedUI([pick('tiny'), pick('Supervised'), pick('Use'), pick('LoRA'), pick('CPU'), pick('Start')]);
  await runFineTuneWizard(ui, services(), '/d.jsonl', GSM8K_SCAN);
  const labels = (ui.shown[ui.shown.length - 1] as PickOptions<unknown>).items.map((i) => i.label);
  assert.ok(labels.includes('Batch size'));
  assert.ok(!labels.some((l) => /Beta|Completions|temperature/.test(l)), labels.join(' | '));
});

test('defaultRunName', () => {
  assert.equal(defaultRunName('/x/Qwen2.5-0.5B', 'sft', new Date(2026, 0, 2, 3, 4)), 'Qwen2.5-0.5B-sft-20260102-0304');
});

test('a golden set beside the data is offered with exact match preselected; review shows the eval cost; the CLI gets the flags', async () => {
  assert.deepEqual(goldenCandidates('/d/gsm8k.train.jsonl'), ['/d/gsm8k.golden.jsonl']);
  assert.deepEqual(goldenCandidates('/d/gsm8k.jsonl'), ['/d/gsm8k.golden.jsonl']);
  // 100 steps, eval every 25: step 0, 25, 50, 75 and the end; 20 golden rows under the limit of 64.
  assert.deepEqual(evalCost({ goldenRows: 20, limit: 64, maxNewTokens: 128, steps: 100, evalEvery: 25 }), { examples: 20, evaluations: 5, tokens: 20 * 128 * 5 });
  assert.deepEqual(evalCost({ goldenRows: 500, limit: 64, maxNewTokens: 10, steps: 7, evalEvery: 0 }), { examples: 64, evaluations: 2, tokens: 1280 });

  const asked: string[] = [];
  const s: WizardServices = { ...services(), goldenSetBeside: (f) => (asked.push(f), { file: '/d/gsm8k.golden.jsonl', rows: 20 }) };
  const ui = scriptedUI([pick('tiny'), pick('Supervised'), pick('Use'), pick('LoRA'), pick('CPU'), (o) => (o as PickOptions<unknown>).active, pick('Start')]);
  const result = await runFineTuneWizard(ui, s, '/d/gsm8k.train.jsonl', GSM8K_SCAN);
  assert.deepEqual(asked, ['/d/gsm8k.train.jsonl']);
  const evalStep = ui.shown[5] as PickOptions<unknown>;
  assert.match(evalStep.placeholder ?? '', /Golden set found: gsm8k\.golden\.jsonl \(20 rows\)/);
  assert.equal(evalStep.items.find((i) => i.value === evalStep.active)?.label, 'Exact match on the golden set', 'exact match is preselected');
  assert.ok(result);
  assert.deepEqual([result.config.eval_metrics, result.config.golden, result.config.best_metric], [['exact-match'], '/d/gsm8k.golden.jsonl', 'exact_match']);
  const review = ui.shown[6] as PickOptions<unknown>;
  const cost = review.items.find((i) => i.label.includes('Exact match while training'));
  assert.match(cost?.description ?? '', /^20 examples × 128 new tokens per evaluation, \d+ evaluations .* generated tokens$/);

  // The run's run_config.json carries them (the train contract), and the CLI reads them back into the same config.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-wizard-eval-'));
  const config = { ...result.config, out: dir, early_stopping_patience: 3, report_to: ['tensorboard' as const] };
  fs.writeFileSync(path.join(dir, 'run_config.json'), serializeRunConfig(config));
  const values = parse(trainArgs(dir).slice(1), { ...TRAIN_OPTIONS, ...EVAL_DURING_TRAINING_OPTIONS }, 'usage').values;
  const back = resolveTrainConfig(values);
  fs.rmSync(dir, { recursive: true, force: true });
  for (const key of ['eval_metrics', 'golden', 'best_metric', 'early_stopping_patience', 'report_to'] as const) assert.deepEqual(back[key], config[key], key);

  // Without a golden set the step is skipped (as before).
  const plain = scriptedUI([pick('tiny'), pick('Supervised'), pick('Use'), pick('LoRA'), pick('CPU'), pick('Start')]);
  const without = await runFineTuneWizard(plain, services(), '/d/x.jsonl', GSM8K_SCAN);
  assert.equal(without?.config.eval_metrics, undefined);
});

test('Hub step: suggested small models with size, license and fit; a suggestion downloads; any other id still works', async () => {
  const downloads: string[] = [];
  const s = { ...services(), systemMemoryBytes: 4 * 2 ** 30, downloadHubModel: async (repo: string) => { downloads.push(repo); return TINY; } };
  const ui = scriptedUI([pick('Download from the Hugging Face Hub'), pick('Qwen/Qwen2.5-0.5B-Instruct'), cancel]);
  assert.equal(await runFineTuneWizard(ui, s, '/d.jsonl', GSM8K_SCAN), undefined);
  assert.deepEqual(downloads, ['Qwen/Qwen2.5-0.5B-Instruct']);
  const hub = ui.shown[1] as PickOptions<string | null>;
  const item = (id: string) => hub.items.find((i) => i.label.endsWith(id))!;
  assert.equal(item('Qwen/Qwen2.5-0.5B-Instruct').description, '494M · Apache-2.0');
  assert.match(item('google/gemma-3-270m-it').description!, /268M · Gemma Terms of Use · gated/);
  assert.match(item('microsoft/Phi-4-mini-instruct').description!, /3\.8B · MIT/);
  // CPU preset on a 4 GiB machine: Phi-4-mini (3.8B, ~19 GB in float32) does not fit and is listed last, marked.
  assert.match(item('microsoft/Phi-4-mini-instruct').label, /warning/);
  assert.match(item('microsoft/Phi-4-mini-instruct').detail!, /needs about .*more than CPU \(small\) has/);
  assert.match(item('Qwen/Qwen3-0.6B').detail!, /^fits CPU \(small\)/);
  assert.equal(hub.items[hub.items.length - 1].label, '$(edit) Another model id…');
  assert.ok(hub.items[hub.items.length - 2].label.endsWith('microsoft/Phi-4-mini-instruct'));

  const ui2 = scriptedUI([pick('Download from the Hugging Face Hub'), pick('Another model id'), type('someone/my-model'), cancel]);
  assert.equal(await runFineTuneWizard(ui2, s, '/d.jsonl', GSM8K_SCAN), undefined);
  assert.deepEqual(downloads, ['Qwen/Qwen2.5-0.5B-Instruct', 'someone/my-model']);
});
