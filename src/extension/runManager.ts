// Owns the training processes: creates runs in the store, queues them, spawns `ftune train`, turns
// its stdout into TrainerEvents, keeps status.json true, and stops/resumes/deletes. No VS Code
// imports — the extension layer listens to its events, and tests drive it with a fake trainer.

import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import { parseCliErrorLine, parseTrainerEvent, type TrainerEvent } from '../core/protocol';
import type { RunConfig } from '../core/runConfig';
import {
  createRun, deleteRun, isProcessAlive, listRuns, readConfig, readEvents, readRun, readStatus, runDirOf, updateStatus,
  type PidProbe, type RunStatus, type RunSummary,
} from '../core/runStore';
import { RunQueue } from './runQueue';
import { trainArgs } from './trainArgs';
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

  constructor(private readonly options: RunManagerOptions) {
    this.runsDir = options.runsDir;
    this.isAlive = options.isAlive ?? isProcessAlive;
    this.queue = new RunQueue((runId) => this.launch(runId), options.maxConcurrent ?? 1);
    this.queue.onDidChange(() => this.onDidChange.fire());
  }

  list(): RunSummary[] {
    return listRuns(this.runsDir, (pid) => this.isAlive(pid));
  }

  get(runId: string): RunSummary | undefined {
    return readRun(runDirOf(this.runsDir, runId), (pid) => this.isAlive(pid));
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
    updateStatus(run.dir, { status: 'queued', error: undefined, finished: undefined, pid: undefined });
    this.resumeNext.add(runId);
    this.queue.enqueue(runId);
    this.onDidChange.fire();
  }

  /** Re-queues runs left queued by an earlier session (status.json says queued and nothing runs them). */
  restoreQueued(): string[] {
    const queued = this.list().filter((r) => r.status === 'queued' && !this.live.has(r.id)).reverse();
    for (const run of queued) this.queue.enqueue(run.id);
    return queued.map((r) => r.id);
  }

  /**
   * Stop: a waiting run leaves the queue; a training one gets SIGTERM (it saves a checkpoint and
   * exits) and SIGKILL if it is still alive after the timeout. A run trained by another window or
   * the CLI is signalled through its pid.
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
    const status = readStatus(dir);
    if (status?.status === 'running' && status.pid !== undefined && this.isAlive(status.pid)) {
      process.kill(status.pid, 'SIGTERM');
      const deadline = Date.now() + (this.options.stopTimeoutMs ?? 30_000);
      while (this.isAlive(status.pid) && Date.now() < deadline) await delay(100);
      if (this.isAlive(status.pid)) process.kill(status.pid, 'SIGKILL');
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
    if (!readConfig(dir)) {
      this.finish(runId, dir, 'failed', 'run_config.json is missing');
      return Promise.resolve();
    }
    const resume = this.resumeNext.delete(runId);
    // trainer.log is opened before the trainer starts, never through a symbolic link (noFollow.ts).
    let logFd: number;
    try {
      logFd = openForAppendNoFollow(path.join(dir, 'trainer.log'));
    } catch (err) {
      this.finish(runId, dir, 'failed', `${(err as Error).message}: delete it and start the run again`);
      return Promise.resolve();
    }
    const invocation = this.options.invocation(trainArgs(dir, { resume }));
    const child = spawn(invocation.command, invocation.args, { cwd: dir, env: invocation.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let resolveExit!: () => void;
    const live: LiveRun = { child, stopRequested: false, exited: new Promise((resolve) => (resolveExit = resolve)) };
    this.live.set(runId, live);
    const log = fs.createWriteStream(path.join(dir, 'trainer.log'), { fd: logFd });

    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      log.write(line + '\n');
      const event = parseTrainerEvent(line);
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
      if (live.killTimer) clearTimeout(live.killTimer);
      this.live.delete(runId);
      log.end();
      this.finish(runId, dir, status, error);
      resolveExit();
    };
    child.on('error', (error) => settle('failed', `could not start the trainer: ${error.message}`));
    child.on('spawn', () => {
      updateStatus(dir, { status: 'running', pid: child.pid, started: new Date().toISOString(), error: undefined, finished: undefined });
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
    updateStatus(dir, { status, error, pid: undefined, finished: new Date().toISOString() });
    this.onFinished.fire({ runId, status, error });
    this.onDidChange.fire();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
