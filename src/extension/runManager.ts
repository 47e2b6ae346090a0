// Owns the training processes: creates runs in the store, queues them, spawns `ftune train`, turns
// its stdout into TrainerEvents, keeps status.json true, and stops/resumes/deletes. No VS Code
// imports — the extension layer listens to its events, and tests drive it with a fake trainer.

import type { ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import { isOurProcess, readProcessIdentity, signalOurProcess } from '../core/processIdentity';
import { parseCliErrorLine, type TrainerEvent } from '../core/protocol';
import type { RunConfig } from '../core/runConfig';
import { checkTrainerEventLine } from '../core/runFileSchemas';
import { readRunLock } from '../core/runLock';
import {
  createRun, deleteRun, listRuns, readConfig, readEvents, readRun, readStatus, runDirOf, updateStatus,
  type PidProbe, type RunStatus, type RunStatusFile, type RunSummary,
} from '../core/runStore';
import { RunQueue } from './runQueue';
import { trainArgs } from './trainArgs';
import { startCli } from './cliClient';
import type { CliInvocation } from './cliInvocation';
import { openForAppendNoFollow } from '../core/noFollow';

export interface RunManagerOptions {
  runsDir: string;
  /** turns CLI arguments into a command line (see cliInvocation.ts). */
  invocation: (args: string[]) => CliInvocation;
  maxConcurrent?: number;
  /** how long Stop waits after SIGTERM (the trainer saves a checkpoint) before SIGKILL. */
  stopTimeoutMs?: number;
  isAlive?: PidProbe;
}

export interface RunFinished {
  runId: string;
  status: RunStatus;
  error?: string;
}

type Listener<T> = (value: T) => void;

class Emitter<T> {
  private readonly listeners = new Set<Listener<T>>();
  on(listener: Listener<T>): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }
  fire(value: T): void {
    for (const listener of [...this.listeners]) listener(value);
  }
}

interface LiveRun {
  child: ChildProcess;
  stopRequested: boolean;
  lastTerminal?: Extract<TrainerEvent, { type: 'done' | 'stopped' | 'failed' }>;
  lastErrorLine?: string;
  killTimer?: NodeJS.Timeout;
  exited: Promise<void>;
}

export class RunManager {
  readonly runsDir: string;
  private readonly queue: RunQueue;
  private readonly live = new Map<string, LiveRun>();
  private readonly resumeNext = new Set<string>();
  private readonly isAlive: PidProbe;

  /** any run's status or progress changed. */
  readonly onDidChange = new Emitter<void>();
  readonly onEvent = new Emitter<{ runId: string; event: TrainerEvent }>();
  /** raw trainer output lines (stdout lines that are not events, and stderr). */
  readonly onOutput = new Emitter<{ runId: string; line: string; stream: 'stdout' | 'stderr' }>();
  readonly onFinished = new Emitter<RunFinished>();
  /** something went wrong that must not stop the run's bookkeeping (a status.json that cannot be written). */
  readonly onWarning = new Emitter<{ runId: string; message: string }>();

  constructor(private readonly options: RunManagerOptions) {
    this.runsDir = options.runsDir;
    this.isAlive = options.isAlive ?? isOurProcess;
    this.queue = new RunQueue((runId) => this.launch(runId), options.maxConcurrent ?? 1);
    this.queue.onDidChange(() => this.onDidChange.fire());
  }

  list(): RunSummary[] {
    return listRuns(this.runsDir, (identity) => this.isAlive(identity));
  }

  get(runId: string): RunSummary | undefined {
    return readRun(runDirOf(this.runsDir, runId), (identity) => this.isAlive(identity));
  }

  dirOf(runId: string): string {
    return runDirOf(this.runsDir, runId);
  }

  isOwned(runId: string): boolean {
    return this.live.has(runId);
  }

  queuePosition(runId: string): number {
    return this.queue.position(runId);
  }

  setMaxConcurrent(n: number): void {
    this.queue.setMaxConcurrent(n);
  }

  /** Creates the run folder and queues it. Returns the run id. */
  start(name: string, config: Omit<RunConfig, 'out'>): string {
    const { id } = createRun(this.runsDir, name, config);
    this.queue.enqueue(id);
    this.onDidChange.fire();
    return id;
  }

  /** Queues a stopped or failed run again with --resume. */
  resume(runId: string): void {
    const run = this.get(runId);
    if (!run) throw new Error(`no run ${runId}`);
    if (!run.resumable) throw new Error(`run ${runId} is ${run.status}; only stopped or failed runs can be resumed`);
    updateStatus(run.dir, { status: 'queued', error: undefined, finished: undefined, pid: undefined, process: undefined });
    this.resumeNext.add(runId);
    this.queue.enqueue(runId);
    this.onDidChange.fire();
  }

  /**
   * Runs that say queued but that this window neither queued nor trains: left by an earlier session,
   * queued by another window, or committed to a cloned repository. They are only ever offered to the
   * user ("Resume 2 queued runs?"), never started silently; oldest first.
   */
  queuedElsewhere(): RunSummary[] {
    return this.list().filter((r) => r.status === 'queued' && !this.live.has(r.id) && this.queue.position(r.id) === 0).reverse();
  }

  /** Queues runs found by queuedElsewhere() once the user agreed; launch() re-checks each before it spawns. */
  enqueueQueued(runIds: readonly string[]): void {
    for (const id of runIds) this.queue.enqueue(id);
    this.onDidChange.fire();
  }

  /**
   * Stop: a waiting run leaves the queue; a training one gets SIGTERM (it saves a checkpoint and
   * exits) and SIGKILL if it is still alive after the timeout. A run trained by another window is
   * signalled only while its pid is still the trainer status.json recorded (processIdentity.ts).
   */
  async stop(runId: string): Promise<void> {
    const dir = this.dirOf(runId);
    if (this.queue.remove(runId)) {
      this.resumeNext.delete(runId);
      updateStatus(dir, { status: 'stopped', finished: new Date().toISOString() });
      this.onDidChange.fire();
      return;
    }
    const live = this.live.get(runId);
    if (live) {
      live.stopRequested = true;
      live.child.kill('SIGTERM');
      live.killTimer = setTimeout(() => live.child.kill('SIGKILL'), this.options.stopTimeoutMs ?? 30_000);
      await live.exited;
      return;
    }
    // Trained by another window or the CLI: signal it only while the pid is still the trainer that
    // status.json recorded; a bare or mismatched pid belongs to somebody else and marks the run stopped.
    const status = readStatus(dir);
    // queued by another window or an earlier session: stopping it here means no window launches it
    // (launch() re-reads the status before it spawns)
    if (status?.status === 'queued') this.writeStatusBestEffort(runId, dir, { status: 'stopped', finished: new Date().toISOString() });
    if (status?.status === 'running') {
      const trainer = status.process;
      if (trainer && status.pid === trainer.pid && signalOurProcess(trainer, 'SIGTERM') === 'ours') {
        const deadline = Date.now() + (this.options.stopTimeoutMs ?? 30_000);
        while (this.isAlive(trainer) && Date.now() < deadline) await delay(100);
        if (this.isAlive(trainer)) signalOurProcess(trainer, 'SIGKILL');
      } else {
        this.writeStatusBestEffort(runId, dir, { status: 'stopped', pid: undefined, process: undefined, finished: new Date().toISOString() });
      }
    }
    this.onDidChange.fire();
  }

  /** Stops the run if needed, then removes its folder. */
  async delete(runId: string): Promise<void> {
    await this.stop(runId);
    deleteRun(this.runsDir, runId);
    this.onDidChange.fire();
  }

  /** Stops every run this manager started (window closing): each saves a checkpoint. */
  async dispose(): Promise<void> {
    await Promise.all([...this.live.keys()].map((id) => this.stop(id)));
  }

  /** Events already written by the trainer, for panels that open mid-run. */
  history(runId: string): TrainerEvent[] {
    return readEvents(this.dirOf(runId));
  }

  private launch(runId: string): Promise<void> {
    const dir = this.dirOf(runId);
    // Another window may have started (or stopped) this run since it was queued here: launch only a
    // run that still says queued and whose folder no live trainer holds — a second trainer in the same
    // folder would delete the first one's metrics.jsonl and in-progress checkpoint.
    const current = readStatus(dir);
    if (current?.status !== 'queued') {
      this.resumeNext.delete(runId);
      this.onDidChange.fire();
      return Promise.resolve();
    }
    // The trainer's own lock (<run>/.ftune-lock, runLock.ts): a live holder, or one on another host.
    const holder = readRunLock(dir);
    if (holder) {
      this.resumeNext.delete(runId);
      this.onWarning.fire({ runId, message: `not started: process ${holder.pid} on ${holder.host} (${holder.cmdline}) is already training in ${dir}` });
      this.onDidChange.fire();
      return Promise.resolve();
    }
    if (!readConfig(dir)) {
      this.finish(runId, dir, 'failed', 'run_config.json is missing');
      return Promise.resolve();
    }
    const resume = this.resumeNext.delete(runId);
    // Claim the run before spawning, so another window that re-reads status.json now sees it taken.
    this.writeStatusBestEffort(runId, dir, { status: 'running', pid: undefined, process: undefined, started: new Date().toISOString(), error: undefined, finished: undefined });
    // trainer.log is opened before the trainer starts, never through a symbolic link (noFollow.ts). A
    // failure marks the run failed (releasing the claim) and resolves, which frees the queue slot.
    let logFd: number;
    try {
      logFd = openForAppendNoFollow(path.join(dir, 'trainer.log'));
    } catch (err) {
      this.finish(runId, dir, 'failed', `${(err as Error).message}: delete it and start the run again`);
      return Promise.resolve();
    }
    let child: ChildProcess;
    try {
      const invocation = this.options.invocation(trainArgs(dir, { resume }));
      child = startCli(invocation, { cwd: dir, stdin: 'ignore' });
    } catch (err) {
      // spawn throws synchronously on bad arguments: close the log, release the claim and the slot
      fs.closeSync(logFd);
      this.finish(runId, dir, 'failed', `could not start the trainer: ${(err as Error).message}`);
      return Promise.resolve();
    }
    let resolveExit!: () => void;
    const live: LiveRun = { child, stopRequested: false, exited: new Promise((resolve) => (resolveExit = resolve)) };
    this.live.set(runId, live);
    const log = fs.createWriteStream(path.join(dir, 'trainer.log'), { fd: logFd });

    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      log.write(line + '\n');
      const checked = checkTrainerEventLine(line);
      const event = checked?.ok ? checked.event : undefined;
      if (!event) {
        this.onOutput.fire({ runId, line, stream: 'stdout' });
        return;
      }
      if (event.type === 'done' || event.type === 'stopped' || event.type === 'failed') live.lastTerminal = event;
      if (event.type === 'started') live.lastTerminal = undefined;
      this.onEvent.fire({ runId, event });
      this.onDidChange.fire();
    });
    readline.createInterface({ input: child.stderr! }).on('line', (line) => {
      log.write(line + '\n');
      live.lastErrorLine = parseCliErrorLine(line) ?? live.lastErrorLine;
      this.onOutput.fire({ runId, line, stream: 'stderr' });
    });

    let settled = false;
    const settle = (status: RunStatus, error?: string): void => {
      if (settled) return;
      settled = true;
      // The queue slot is released by resolveExit: it must run even if the bookkeeping below throws
      // (a full disk, a read-only folder), or every later run waits forever.
      try {
        if (live.killTimer) clearTimeout(live.killTimer);
        this.live.delete(runId);
        log.end();
        this.finish(runId, dir, status, error);
      } finally {
        resolveExit();
      }
    };
    child.on('error', (error) => settle('failed', `could not start the trainer: ${error.message}`));
    child.on('spawn', () => {
      // who the trainer is, as the OS reports it, so Stop from any window signals this process only
      const identity = child.pid !== undefined ? readProcessIdentity(child.pid) : undefined;
      this.writeStatusBestEffort(runId, dir, { status: 'running', pid: child.pid, process: identity, started: new Date().toISOString(), error: undefined, finished: undefined });
      this.onDidChange.fire();
    });
    // 'close' (not 'exit') so every stdout line, including the final event, has been read.
    child.on('close', (code, signal) => {
      const terminal = live.lastTerminal;
      if (terminal?.type === 'done') settle('completed');
      else if (terminal?.type === 'stopped') settle('stopped');
      else if (terminal?.type === 'failed') settle('failed', terminal.error);
      else if (live.stopRequested) settle('stopped');
      else settle('failed', live.lastErrorLine ?? (signal ? `the trainer was killed by ${signal}` : `the trainer exited with code ${code}`));
    });
    return live.exited;
  }

  private finish(runId: string, dir: string, status: RunStatus, error?: string): void {
    this.writeStatusBestEffort(runId, dir, { status, error, pid: undefined, process: undefined, finished: new Date().toISOString() });
    this.onFinished.fire({ runId, status, error });
    this.onDidChange.fire();
  }

  /** status.json is bookkeeping: failing to write it (disk full, read-only folder) is a warning, never a throw. */
  private writeStatusBestEffort(runId: string, dir: string, patch: Partial<RunStatusFile>): void {
    try {
      updateStatus(dir, patch);
    } catch (error) {
      this.onWarning.fire({ runId, message: `could not write ${path.join(dir, 'status.json')}: ${(error as Error).message}` });
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
