// Schemas for every file the extension reads back from a run folder (status.json, run_config.json,
// metrics.jsonl, the run lock). These files live in the workspace: a hand edit, a half-written line,
// a file from another version or a hostile repository can hold anything, so nothing is trusted until
// it has passed one of these. A file that fails is reported (the run shows a warning and the reason);
// it never throws into a view. No VS Code imports.

import * as z from 'zod';
import { METHOD_IDS } from './methods';
import type { TrainerEvent } from './protocol';

/** "status: expected ..., got string" — the first problem, short enough for a tree item. */
export function describeZodError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
  return `${where}${issue.message}`;
}

export const ProcessIdentitySchema = z.object({
  pid: z.number().int(),
  startTime: z.string(),
  cmdline: z.string(),
  host: z.string().optional(),
});

export const RunStatusSchema = z.enum(['queued', 'running', 'completed', 'failed', 'stopped']);

export const StatusFileSchema = z.object({
  status: RunStatusSchema,
  name: z.string().optional(),
  created: z.string().optional(),
  pid: z.number().int().optional(),
  /** who the trainer is (see processIdentity.ts): the pid is signalled only while it matches. */
  process: ProcessIdentitySchema.optional(),
  started: z.string().optional(),
  finished: z.string().optional(),
  error: z.string().optional(),
});

const MethodSchema = z.enum(METHOD_IDS);

/** The fields of run_config.json the extension reads; the trainer validates the rest itself. */
export const RunConfigFileSchema = z.looseObject({
  method: MethodSchema.optional(),
  model: z.string(),
  data: z.string(),
  out: z.string().optional(),
  full: z.boolean().optional(),
  lora_r: z.number().optional(),
  backend: z.string().optional(),
  max_steps: z.number().optional(),
});

// A diverged loss is NaN, which JSON writes as null: keep it a number (NaN) so it still shows.
const metric = z.union([z.number(), z.null().transform(() => Number.NaN)], { error: 'expected a number' });
const count = z.number();
const extra = z.record(z.string(), metric).optional();

const EventSchema = z.discriminatedUnion('type', [
  z.looseObject({
    type: z.literal('started'), run_id: z.string().optional(), method: MethodSchema.optional(), model: z.string(), backend: z.string(),
    total_steps: count, examples: count.optional(), skipped: count.optional(), trainable_parameters: count.optional(), resumed_from_step: count, time: z.string().optional(),
  }),
  z.looseObject({
    type: z.literal('step'), step: count, total_steps: count, epoch: metric.optional(), loss: metric, lr: metric, grad_norm: metric,
    tokens_per_second: metric, tokens_seen: count.optional(), elapsed: metric, extra,
  }),
  z.looseObject({ type: z.literal('eval'), step: count, eval_loss: metric, perplexity: metric, extra }),
  z.looseObject({ type: z.literal('checkpoint'), step: count, path: z.string(), eval_loss: metric.optional() }),
  z.looseObject({ type: z.literal('log'), level: z.enum(['info', 'warn']), message: z.string() }),
  z.looseObject({ type: z.literal('done'), step: count, adapter_path: z.string(), elapsed: metric }),
  z.looseObject({ type: z.literal('stopped'), step: count, checkpoint: z.string().optional() }),
  z.looseObject({ type: z.literal('failed'), error: z.string(), step: count.optional(), checkpoint: z.string().optional() }),
]);

const EVENT_TYPES: ReadonlySet<string> = new Set(EventSchema.options.map((o) => o.shape.type.value));

export type CheckedEvent = { ok: true; event: TrainerEvent } | { ok: false; reason: string } | undefined;

/**
 * One metrics.jsonl / stdout line: undefined for a line that is not an event at all (plain log output),
 * else the validated event or the reason it is not a valid one.
 */
export function checkTrainerEventLine(line: string): CheckedEvent {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return { ok: false, reason: 'not valid JSON' };
  }
  const type = (value as { type?: unknown } | null)?.type;
  // a line of some other JSON, or an event type a newer trainer added: not ours to judge
  if (typeof type !== 'string' || !EVENT_TYPES.has(type)) return undefined;
  const parsed = EventSchema.safeParse(value);
  if (!parsed.success) return { ok: false, reason: describeZodError(parsed.error) };
  // The schema checked every field the extension reads; the rest (config, …) passes through unchanged.
  return { ok: true, event: parsed.data as unknown as TrainerEvent };
}
