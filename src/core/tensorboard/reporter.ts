// --report-to tensorboard: every trainer event's numbers as TensorBoard scalars under train/ (step
// events) and eval/ (eval events), the run config as text, in <out>/tensorboard/. Tag names follow
// transformers' TensorBoardCallback (train/loss, train/learning_rate, eval/loss, ...).
import * as path from 'path';
import type { TrainerEvent } from '../protocol';
import type { RunConfig } from '../runConfig';
import { EventFileWriter } from './eventFile';

export const TENSORBOARD_DIR = 'tensorboard';

/** Protocol names that transformers spells differently in TensorBoard. */
const TRAIN_RENAMES: Record<string, string> = { lr: 'learning_rate' };
const EVAL_RENAMES: Record<string, string> = { eval_loss: 'loss' };
/** Event fields that are not metrics. */
const NOT_SCALARS = new Set(['type', 'step', 'total_steps', 'extra']);

export class TensorBoardReporter {
  private readonly writer: EventFileWriter;

  /** `resumedFromStep` > 0: points after it in earlier files are superseded. */
  constructor(out: string, config: RunConfig, resumedFromStep: number) {
    this.writer = new EventFileWriter(path.join(out, TENSORBOARD_DIR));
    // A resumed run replays the steps after its checkpoint: the killed run's points for them go.
    if (resumedFromStep > 0) this.writer.sessionStart(resumedFromStep + 1);
    this.writer.text(resumedFromStep, 'run_config', '```json\n' + JSON.stringify(config, null, 2) + '\n```');
  }

  get file(): string {
    return this.writer.file;
  }

  onEvent(event: TrainerEvent): void {
    if (event.type === 'step') this.writer.scalars(event.step, scalarsOf(event, 'train', TRAIN_RENAMES));
    else if (event.type === 'eval') this.writer.scalars(event.step, scalarsOf(event, 'eval', EVAL_RENAMES));
  }

  close(): void {
    this.writer.close();
  }
}

/** Every finite number of the event and of its `extra`, as `<prefix>/<name>`. */
export function scalarsOf(event: object, prefix: string, renames: Record<string, string>): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (key: string, value: unknown) => {
    if (typeof value === 'number' && Number.isFinite(value) && !NOT_SCALARS.has(key)) out[`${prefix}/${renames[key] ?? key}`] = value;
  };
  for (const [key, value] of Object.entries(event)) add(key, value);
  const extra = (event as { extra?: Record<string, unknown> }).extra;
  for (const [key, value] of Object.entries(extra ?? {})) add(key, value);
  return out;
}
