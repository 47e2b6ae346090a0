// `ftune train`: TrainerEvents as JSON lines on stdout (the extension's protocol), the same in
// <out>/metrics.jsonl, readable progress on stderr when a person is watching.
import * as fs from 'fs';
import * as path from 'path';
import { GENERATION_METRIC_KEYS } from '../core/bestMetric';
import type { EvalMetrics, TrainerEvent } from '../core/protocol';
import { METHOD_IDS } from '../core/methods';
import type { RunConfig } from '../core/runConfig';
import { readRunConfigFile } from '../core/runConfigFile';
import { inspectRunFolder, prepareRunFolder } from '../core/runFolder';
import { acquireRunLock } from '../core/runLock';
import { runTraining } from '../engine/trainer';
import { parse, runConfigFromArgs, str, TRAIN_OPTIONS, UsageError, type Parsed } from './args';
import { EVAL_DURING_TRAINING_OPTIONS, EVAL_DURING_TRAINING_USAGE, evalDuringTrainingFromArgs } from './evalArgs';

export const TRAIN_USAGE = `usage: ftune train --model DIR --data FILE --out DIR [--method ${METHOD_IDS.join('|')}]
       ftune train --config run_config.json [any flag below overrides the file]
    [--eval-data FILE | --eval-split F] [--format auto|messages|prompt-completion|text|preference] [--field KEY=COLUMN ...]
    [--lora-r 8] [--lora-alpha 16] [--lora-dropout 0.05] [--lora-targets all-linear|q_proj,v_proj,...] [--full] [--init-adapter DIR]
    [--quantize none|int8|nf4]  (LoRA's frozen base: none = 16-bit as stored, int8 per row, nf4 = QLoRA)
    [--epochs N | --max-steps N] [--batch-size N] [--grad-accum N] [--lr X] [--weight-decay X] [--adam-beta1 X] [--adam-beta2 X]
    [--adam-eps X] [--max-grad-norm X] [--schedule constant|linear|cosine] [--warmup-steps N] [--max-length N] [--limit N]
    [--no-shuffle] [--seed N] [--eval-every N] [--save-every N] [--backend auto|tensorflow|webgpu|wasm|cpu] [--resume | --overwrite]
    [--beta X] [--neftune-alpha X] [--mix FILE:RATIO] [--gradient-checkpointing]
    GRPO: [--num-generations 4] [--max-completion-length 64] [--temperature 1] [--reward exact-match|format|exact-match+format|ADAPTER_DIR]
${EVAL_DURING_TRAINING_USAGE}`;

export async function trainCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...TRAIN_OPTIONS, ...EVAL_DURING_TRAINING_OPTIONS }, TRAIN_USAGE);
  const config = resolveTrainConfig(values);
  // --out belongs to the user until we know it is ours: a folder that is not a run folder is refused
  // before anything (even the lock file) is written into it.
  const resume = values.resume === true;
  const overwrite = values.overwrite === true;
  if (resume && overwrite) throw new UsageError('--resume and --overwrite exclude each other');
  if (inspectRunFolder(config.out).kind === 'foreign') prepareRunFolder(config.out, { resume, overwrite });
  // One trainer per run folder (the extension checks the same lock); under it, --overwrite empties
  // a started run and a fresh start into one is refused.
  const lock = acquireRunLock(config.out);
  try {
    prepareRunFolder(config.out, { resume, overwrite });
    return await train(config, resume);
  } finally {
    lock.release();
  }
}

async function train(config: RunConfig, resume: boolean): Promise<number> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const human = process.stdout.isTTY === true;
  let failure: string | undefined;
  try {
    const outcome = await runTraining({
      config,
      resume,
      signal: controller.signal,
      emit: (event) => {
        process.stdout.write(JSON.stringify(event) + '\n');
        if (event.type === 'failed') failure = event.error;
        if (human) process.stderr.write(describe(event));
      },
    });
    if (outcome !== 'failed') return 0;
    // The CLI's error contract: exit 1 with one `ftune: error:` line, as for any other failure.
    process.stderr.write(`ftune: error: ${(failure ?? 'training failed').split('\n')[0]}\n`);
    return 1;
  } catch (err) {
    // Bad data, a missing tensor, out of memory, a backend failure: the host learns it from the protocol
    // too (a `failed` event on stdout and in metrics.jsonl), not only from the exit code.
    const error = err instanceof Error ? err.message : String(err);
    const event: TrainerEvent = { type: 'failed', error };
    process.stdout.write(JSON.stringify(event) + '\n');
    // A run that had started keeps its record complete; a run that never started leaves no files behind.
    const metrics = path.join(config.out, 'metrics.jsonl');
    if (fs.existsSync(metrics)) fs.appendFileSync(metrics, JSON.stringify(event) + '\n');
    throw err;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

/**
 * The run configuration `ftune train` trains with: `--config FILE` (a run_config.json, the schema
 * `train` writes) or, for `--resume` without it, `<out>/run_config.json`, or the defaults; then every
 * flag given on the command line overrides its field.
 */
export function resolveTrainConfig(values: Parsed): RunConfig {
  const file = str(values, 'config');
  const out = str(values, 'out');
  const saved = out ? path.join(out, 'run_config.json') : undefined;
  let base: RunConfig | undefined;
  try {
    if (file !== undefined) base = readRunConfigFile(file);
    // Resume: the saved configuration, with any flag given now taking precedence (e.g. more --max-steps).
    else if (values.resume && saved && fs.existsSync(saved)) base = readRunConfigFile(saved);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const config = runConfigFromArgs(values, base);
  return { ...config, ...evalDuringTrainingFromArgs(values, config) };
}

function describe(e: TrainerEvent): string {
  switch (e.type) {
    case 'started':
      return `training ${e.model} on ${e.examples} examples, ${e.total_steps} steps, backend ${e.backend}\n`;
    case 'step':
      return `step ${e.step}/${e.total_steps}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  grad ${e.grad_norm.toFixed(3)}  ${Math.round(e.tokens_per_second)} tok/s\n`;
    case 'eval':
      return `eval at step ${e.step}: loss ${e.eval_loss.toFixed(4)}  perplexity ${e.perplexity.toFixed(2)}${describeGenerationMetrics(e)}\n`;
    case 'checkpoint':
      return `checkpoint ${e.path}\n`;
    case 'log':
      return `${e.message}\n`;
    case 'done':
      return `done in ${e.elapsed.toFixed(1)} s: ${e.adapter_path}\n`;
    case 'stopped':
      return e.reason ? `stopped at step ${e.step}: ${e.reason}\n` : `stopped at step ${e.step}; resume with --resume\n`;
    case 'failed':
      return `failed: ${e.error}\n`;
  }
}

function describeGenerationMetrics(e: EvalMetrics): string {
  const parts = GENERATION_METRIC_KEYS.filter((k) => e[k] !== undefined).map((k) => `${k} ${e[k]!.toFixed(4)}`);
  return parts.length > 0 ? `  ${parts.join('  ')} (${e.generation_examples} examples, ${e.generation_seconds?.toFixed(1)} s)` : '';
}
