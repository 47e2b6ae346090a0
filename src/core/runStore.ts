// The run store: every training run is a folder `<runsDir>/<run-id>/` and everything the extension
// shows about it is read back from that folder, so a window reload (or a run started from the CLI)
// reconstructs the same picture. No VS Code imports: unit-tested with plain node.
//
//   <run-id>/run_config.json   RunConfig (written here when the run is created; the trainer rewrites it)
//            status.json       RunStatusFile below — the only file this module owns
//            metrics.jsonl     TrainerEvent JSON lines appended by the trainer
//            checkpoints/step-N/trainer_state.json  {step, ...}
//            adapter/          the final adapter

import * as fs from 'fs';
import * as path from 'path';
import { isBestMetric } from './bestMetric';
import { isMethod, methodSpec, type Method } from './methods';
import { isOurProcess, isSignallablePid, type ProcessIdentity } from './processIdentity';
import { type BestEvaluation, type TrainerEvent } from './protocol';
import type { RunConfig } from './runConfig';
import { checkTrainerEventLine, describeZodError, RunConfigFileSchema, StatusFileSchema } from './runFileSchemas';

export type RunStatus = 'queued' | 'running' | 'completed' | 'failed' | 'stopped';

export interface RunStatusFile {
  status: RunStatus;
  /** display name (the id is its sanitised form). */
  name: string;
  created: string;
  pid?: number;
  /** the trainer's identity, recorded when it started: only a process that still matches is ever signalled. */
  process?: ProcessIdentity;
  started?: string;
  finished?: string;
  error?: string;
}

export interface CheckpointInfo {
  step: number;
  path: string;
  eval_loss?: number;
}

export interface RunSummary {
  id: string;
  dir: string;
  name: string;
  status: RunStatus;
  created: string;
  pid?: number;
  model: string;
  method: Method;
  full: boolean;
  backend?: string;
  step: number;
  total_steps: number;
  loss?: number;
  eval_loss?: number;
  /** the method's own latest metrics (DPO rewards, reward accuracy, GRPO reward / KL); eval ones prefixed 'eval '. */
  metrics?: Record<string, number>;
  tokens_per_second?: number;
  eta_seconds?: number;
  checkpoints: CheckpointInfo[];
  /** the final adapter folder when the run completed and wrote it. */
  adapter?: string;
  error?: string;
  /** Resume is offered for stopped and failed runs whose configuration is on disk. */
  resumable: boolean;
  config?: RunConfig;
  /** <dir>/best: the best evaluation's weights (--best-metric), when the run kept one. */
  best?: BestEvaluation;
  /** files of the run folder that failed validation, as `file[:line]: reason`; the run shows a warning. */
  problems?: string[];
}

/**
 * Tells whether the recorded trainer process is still alive and still that process (not merely some
 * process with the same pid). Injected so tests control it.
 */
export type PidProbe = (identity: ProcessIdentity) => boolean;

export const STATUS_FILE = 'status.json';
export const CONFIG_FILE = 'run_config.json';
export const METRICS_FILE = 'metrics.jsonl';

const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * Turns any display name into a safe folder name: only letters, digits, `.`, `_`, `-`; no leading dot
 * or dash; no `..`; at most 100 characters. Never empty.
 */
export function sanitizeRunName(name: string): string {
  const cleaned = name
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/-{2,}/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 100)
    .replace(/[._-]+$/, '');
  return cleaned || 'run';
}

export function isValidRunId(id: string): boolean {
  return RUN_ID_PATTERN.test(id) && !id.includes('..');
}

/** The folder of run `id`; throws when the id could point anywhere but directly inside runsDir. */
export function runDirOf(runsDir: string, id: string): string {
  if (!isValidRunId(id)) throw new Error(`invalid run id: ${JSON.stringify(id)}`);
  const root = path.resolve(runsDir);
  const dir = path.resolve(root, id);
  if (path.dirname(dir) !== root) throw new Error(`run id escapes the runs directory: ${JSON.stringify(id)}`);
  return dir;
}

/** A fresh id for `name`: its sanitised form, with -2, -3, ... appended when taken. */
export function uniqueRunId(runsDir: string, name: string): string {
  const base = sanitizeRunName(name).slice(0, 90);
  let id = base;
  for (let n = 2; fs.existsSync(path.join(runsDir, id)); n++) id = `${base}-${n}`;
  return id;
}

/** Creates `<runsDir>/<id>/` with run_config.json (out = the run folder) and status queued. */
export function createRun(runsDir: string, name: string, config: Omit<RunConfig, 'out'>, now = new Date()): { id: string; dir: string; config: RunConfig } {
  fs.mkdirSync(runsDir, { recursive: true });
  const id = uniqueRunId(runsDir, name);
  const dir = runDirOf(runsDir, id);
  fs.mkdirSync(dir);
  const full: RunConfig = { ...config, out: dir };
  writeJsonAtomic(path.join(dir, CONFIG_FILE), full);
  writeStatus(dir, { status: 'queued', name, created: now.toISOString() });
  return { id, dir, config: full };
}

export function readStatus(dir: string): RunStatusFile | undefined {
  return readStatusChecked(dir).status;
}

/** status.json through its schema: the status, or why the file is not a valid one (absent: neither). */
export function readStatusChecked(dir: string): { status?: RunStatusFile; problem?: string } {
  const value = readJsonChecked(path.join(dir, STATUS_FILE));
  if (value.problem) return { problem: `${STATUS_FILE}: ${value.problem}` };
  if (value.value === undefined) return {};
  const parsed = StatusFileSchema.safeParse(value.value);
  if (!parsed.success) return { problem: `${STATUS_FILE}: ${describeZodError(parsed.error)}` };
  const s = parsed.data;
  const status: RunStatusFile = { status: s.status, name: s.name ?? path.basename(dir), created: s.created ?? statTime(dir) };
  if (s.pid !== undefined) status.pid = s.pid;
  if (s.process !== undefined) status.process = s.process;
  if (s.started !== undefined) status.started = s.started;
  if (s.finished !== undefined) status.finished = s.finished;
  if (s.error !== undefined) status.error = s.error;
  return { status };
}

export function writeStatus(dir: string, status: RunStatusFile): void {
  writeJsonAtomic(path.join(dir, STATUS_FILE), status);
}

/** Merges `patch` into the status file (creating it from defaults when missing). */
export function updateStatus(dir: string, patch: Partial<RunStatusFile>): RunStatusFile {
  const current = readStatus(dir) ?? { status: 'queued' as RunStatus, name: path.basename(dir), created: statTime(dir) };
  const next: RunStatusFile = { ...current, ...patch };
  for (const key of Object.keys(next) as (keyof RunStatusFile)[]) if (next[key] === undefined) delete next[key];
  writeStatus(dir, next);
  return next;
}

export function readConfig(dir: string): RunConfig | undefined {
  return readConfigChecked(dir).config;
}

/** run_config.json through its schema (the fields the extension reads are checked; the trainer checks the rest). */
export function readConfigChecked(dir: string): { config?: RunConfig; problem?: string } {
  const value = readJsonChecked(path.join(dir, CONFIG_FILE));
  if (value.problem) return { problem: `${CONFIG_FILE}: ${value.problem}` };
  if (value.value === undefined) return {};
  const parsed = RunConfigFileSchema.safeParse(value.value);
  if (!parsed.success) return { problem: `${CONFIG_FILE}: ${describeZodError(parsed.error)}` };
  return { config: parsed.data as unknown as RunConfig };
}

/** Every valid TrainerEvent in metrics.jsonl; a half-written last line (the trainer is mid-write) is skipped. */
export function readEvents(dir: string): TrainerEvent[] {
  return readEventsChecked(dir).events;
}

/** The valid events and, for invalid lines, `metrics.jsonl:N: reason` (those lines are left out). */
export function readEventsChecked(dir: string): { events: TrainerEvent[]; problems: string[] } {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, METRICS_FILE), 'utf8');
  } catch {
    return { events: [], problems: [] };
  }
  const events: TrainerEvent[] = [];
  const problems: string[] = [];
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const checked = checkTrainerEventLine(line);
    if (!checked) return;
    if (checked.ok) events.push(checked.event);
    // the last line without its newline is still being written: not a problem yet
    else if (index < lines.length - 1) problems.push(`${METRICS_FILE}:${index + 1}: ${checked.reason}`);
  });
  return { events, problems };
}

/** Progress folded from the event stream. */
export interface EventSummary {
  step: number;
  total_steps: number;
  loss?: number;
  eval_loss?: number;
  metrics?: Record<string, number>;
  tokens_per_second?: number;
  eta_seconds?: number;
  backend?: string;
  /** the last terminal event, if any, after the last `started`. */
  terminal?: Extract<TrainerEvent, { type: 'done' | 'stopped' | 'failed' }>;
  /** eval loss by step, from both `eval` and `checkpoint` events. */
  eval_losses: Map<number, number>;
  adapter_path?: string;
}

export function summarizeEvents(events: readonly TrainerEvent[]): EventSummary {
  const summary: EventSummary = { step: 0, total_steps: 0, eval_losses: new Map() };
  // Steps of the current session (after the last `started`) give the rate for the ETA; elapsed may
  // restart at 0 on resume, so only differences within one session are trusted.
  let sessionSteps: { step: number; elapsed: number }[] = [];
  let resumedFrom = 0;
  for (const e of events) {
    switch (e.type) {
      case 'started':
        summary.total_steps = e.total_steps;
        summary.backend = e.backend;
        summary.terminal = undefined;
        resumedFrom = e.resumed_from_step;
        summary.step = Math.max(summary.step, e.resumed_from_step);
        sessionSteps = [];
        break;
      case 'step':
        summary.step = e.step;
        if (e.total_steps > 0) summary.total_steps = e.total_steps;
        summary.loss = e.loss;
        if (e.extra) summary.metrics = { ...summary.metrics, ...e.extra };
        summary.tokens_per_second = e.tokens_per_second;
        sessionSteps.push({ step: e.step, elapsed: e.elapsed });
        break;
      case 'eval':
        summary.eval_loss = e.eval_loss;
        if (e.extra) summary.metrics = { ...summary.metrics, ...Object.fromEntries(Object.entries(e.extra).map(([k, v]) => [`eval ${k}`, v])) };
        summary.eval_losses.set(e.step, e.eval_loss);
        break;
      case 'checkpoint':
        if (typeof e.eval_loss === 'number') {
          summary.eval_losses.set(e.step, e.eval_loss);
          summary.eval_loss = e.eval_loss;
        }
        break;
      case 'done':
        summary.step = Math.max(summary.step, e.step);
        summary.adapter_path = e.adapter_path;
        summary.terminal = e;
        break;
      case 'stopped':
      case 'failed':
        summary.terminal = e;
        break;
      case 'log':
        break;
    }
  }
  const remaining = summary.total_steps - summary.step;
  const secondsPerStep = stepRate(sessionSteps, resumedFrom);
  if (secondsPerStep !== undefined && remaining >= 0 && !summary.terminal) summary.eta_seconds = secondsPerStep * remaining;
  return summary;
}

function stepRate(steps: { step: number; elapsed: number }[], resumedFrom: number): number | undefined {
  if (steps.length >= 2) {
    const first = steps[0];
    const last = steps[steps.length - 1];
    if (last.step > first.step) return (last.elapsed - first.elapsed) / (last.step - first.step);
  }
  if (steps.length === 1 && steps[0].step > resumedFrom) return steps[0].elapsed / (steps[0].step - resumedFrom);
  return undefined;
}

/** checkpoints/step-N folders, oldest first; the step comes from trainer_state.json when present. */
export function listCheckpoints(dir: string, evalLosses: ReadonlyMap<number, number> = new Map()): CheckpointInfo[] {
  const root = path.join(dir, 'checkpoints');
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  const result: CheckpointInfo[] = [];
  for (const name of names) {
    const match = /^step-(\d+)$/.exec(name);
    if (!match) continue;
    const ckpt = path.join(root, name);
    if (!isDirectory(ckpt)) continue;
    const state = readJson(path.join(ckpt, 'trainer_state.json')) as { step?: unknown; global_step?: unknown; log_history?: unknown } | undefined;
    const stateStep = typeof state?.step === 'number' ? state.step : typeof state?.global_step === 'number' ? state.global_step : undefined;
    const step = stateStep ?? Number(match[1]);
    const evalLoss = evalLosses.get(step) ?? evalLossFromHistory(state?.log_history, step);
    result.push(evalLoss === undefined ? { step, path: ckpt } : { step, path: ckpt, eval_loss: evalLoss });
  }
  return result.sort((a, b) => a.step - b.step);
}

/** HF's trainer_state.json keeps eval results in log_history entries {step, eval_loss}. */
function evalLossFromHistory(history: unknown, step: number): number | undefined {
  if (!Array.isArray(history)) return undefined;
  for (let i = history.length - 1; i >= 0; i--) {
    const entry = history[i] as { step?: unknown; eval_loss?: unknown };
    if (entry && entry.step === step && typeof entry.eval_loss === 'number') return entry.eval_loss;
  }
  return undefined;
}

/** Reads one run folder. Returns undefined for folders that are not runs (no status, config or metrics). */
export function readRun(dir: string, isAlive: PidProbe = isOurProcess): RunSummary | undefined {
  const { status: statusFile, problem: statusProblem } = readStatusChecked(dir);
  const { config, problem: configProblem } = readConfigChecked(dir);
  const { events, problems: eventProblems } = readEventsChecked(dir);
  const problems = [statusProblem, configProblem, ...eventProblems].filter((p): p is string => p !== undefined);
  if (!statusFile && !config && events.length === 0 && problems.length === 0) return undefined;
  const summary = summarizeEvents(events);
  const started = events.find((e): e is Extract<TrainerEvent, { type: 'started' }> => e.type === 'started');

  const { status, error } = resolveStatus(statusFile, summary, isAlive);
  const adapterDir = path.join(dir, 'adapter');
  const checkpoints = listCheckpoints(dir, summary.eval_losses);
  const method: Method = config?.method ?? started?.method ?? 'sft';
  return {
    id: path.basename(dir),
    dir,
    name: statusFile?.name ?? path.basename(dir),
    status,
    created: statusFile?.created ?? statTime(dir),
    pid: status === 'running' ? statusFile?.pid : undefined,
    model: config?.model ?? started?.model ?? '',
    method,
    full: config?.full ?? false,
    backend: summary.backend ?? config?.backend,
    step: summary.step,
    total_steps: summary.total_steps,
    loss: summary.loss,
    eval_loss: summary.eval_loss,
    metrics: summary.metrics,
    tokens_per_second: summary.tokens_per_second,
    eta_seconds: status === 'running' ? summary.eta_seconds : undefined,
    checkpoints,
    adapter: isDirectory(adapterDir) ? adapterDir : undefined,
    error,
    resumable: (status === 'stopped' || status === 'failed') && config !== undefined,
    config,
    best: readBestEvaluation(dir),
    ...(problems.length ? { problems } : {}),
  };
}

/**
 * The status to show. status.json is authoritative while its process lives; once the process is gone,
 * the trainer's own last word in metrics.jsonl decides, and a run that died without one was
 * interrupted — it shows as stopped (resumable from its last checkpoint).
 */
function resolveStatus(file: RunStatusFile | undefined, summary: EventSummary, isAlive: PidProbe): { status: RunStatus; error?: string } {
  const fromTerminal = (): { status: RunStatus; error?: string } | undefined => {
    const t = summary.terminal;
    if (!t) return undefined;
    if (t.type === 'done') return { status: 'completed' };
    if (t.type === 'stopped') return { status: 'stopped' };
    return { status: 'failed', error: t.error };
  };
  if (!file) return fromTerminal() ?? { status: 'stopped' };
  if (file.status === 'running') {
    // Only a recorded identity that still matches a live process counts: a bare pid (an old status.json,
    // one committed to a repository, or a stale one after a reboot) names some unrelated process.
    const trainer = file.process;
    if (trainer && isSignallablePid(trainer.pid) && trainer.pid === (file.pid ?? trainer.pid) && isAlive(trainer)) return { status: 'running' };
    // Claimed by a window that is spawning the trainer right now (no pid yet): running for a moment.
    if (!trainer && file.pid === undefined && isRecent(file.started, LAUNCH_GRACE_MS)) return { status: 'running' };
    return fromTerminal() ?? { status: 'stopped', error: file.error };
  }
  return { status: file.status, error: file.error ?? (file.status === 'failed' ? fromTerminal()?.error : undefined) };
}

/** How long a run claimed for launch (status running, no pid yet) shows as running before it counts as dead. */
const LAUNCH_GRACE_MS = 30_000;

function isRecent(iso: string | undefined, ms: number): boolean {
  const t = iso ? Date.parse(iso) : Number.NaN;
  return Number.isFinite(t) && Date.now() - t < ms && t <= Date.now() + 1000;
}

/** All runs under runsDir, newest first. */
export function listRuns(runsDir: string, isAlive: PidProbe = isOurProcess): RunSummary[] {
  let names: string[];
  try {
    names = fs.readdirSync(runsDir);
  } catch {
    return [];
  }
  const runs: RunSummary[] = [];
  for (const name of names) {
    if (!isValidRunId(name)) continue;
    const dir = path.join(runsDir, name);
    if (!isDirectory(dir)) continue;
    const run = readRun(dir, isAlive);
    if (run) runs.push(run);
  }
  return runs.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : a.id.localeCompare(b.id)));
}

/** Removes a run folder. Refuses ids that are not plain children of runsDir. */
export function deleteRun(runsDir: string, id: string): void {
  fs.rmSync(runDirOf(runsDir, id), { recursive: true, force: true });
}

/**
 * True when `pid` names a live (non-zombie) process that we may signal. EPERM (it exists but belongs to
 * someone else) is not "alive" for us, and pid ≤ 1 never is. Prefer isOurProcess (processIdentity.ts),
 * which also checks the process is the one we started.
 */
export function isProcessAlive(pid: number): boolean {
  if (!isSignallablePid(pid)) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A child that exited but was not reaped yet still answers signal 0; /proc tells (Linux only).
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true;
  }
}

/** <dir>/best/best.json (written by the trainer once best/ is complete), checked field by field. */
export function readBestEvaluation(dir: string): BestEvaluation | undefined {
  const best = path.join(dir, 'best');
  const raw = readJson(path.join(best, 'best.json')) as Record<string, unknown> | undefined;
  if (!raw || typeof raw.metric !== 'string' || !isBestMetric(raw.metric) || typeof raw.value !== 'number' || typeof raw.step !== 'number') return undefined;
  return { metric: raw.metric, value: raw.value, step: raw.step, path: best };
}

function readJson(file: string): unknown {
  return readJsonChecked(file).value;
}

/** value: the parsed file; problem: it exists but is not JSON; neither: it does not exist. */
function readJsonChecked(file: string): { value?: unknown; problem?: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    return { problem: `not valid JSON (${(error as Error).message})` };
  }
}

/** Write-then-rename, so a reader never sees half a file. */
function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function statTime(p: string): string {
  try {
    return fs.statSync(p).birthtime.toISOString();
  } catch {
    return new Date(0).toISOString();
  }
}

/** The one number that tells how a non-SFT run is doing, for the Runs view (eval value preferred). */
export function headlineMetric(run: Pick<RunSummary, 'method' | 'metrics'>): string | undefined {
  // a hand-edited run_config.json may name a method this version does not know
  const headline = isMethod(run.method) ? methodSpec(run.method).headline : undefined;
  if (!headline || !run.metrics) return undefined;
  const value = run.metrics[`eval ${headline.key}`] ?? run.metrics[headline.key];
  return value === undefined ? undefined : `${headline.label} ${value.toFixed(3)}`;
}
