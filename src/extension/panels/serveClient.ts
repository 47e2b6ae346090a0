// Client of one `ftune serve --model DIR` child process (ServeRequest / ServeResponse JSON lines).
// The process keeps its base model loaded; adapters are chosen per request. Requests are sent one at a
// time: generation is compute-bound, so interleaving would not be faster, and a strict queue keeps
// "Stop" and per-column status simple. No vscode import: unit tested with a fake server.

import type { ChildProcessWithoutNullStreams } from 'child_process';
import * as readline from 'readline';
import type { ChatMessage, DecodingOptions, ModelRef, ServeRequest, ServeResponse } from '../../core/protocol';

export interface GenerateRequest {
  id: string;
  ref: ModelRef;
  prompt?: string;
  messages?: ChatMessage[];
  options: DecodingOptions;
}

export type ServeDone = Extract<ServeResponse, { type: 'done' }>;

export interface GenerateCallbacks {
  /** the request left the queue and was sent to the server. */
  onStart?: () => void;
  onToken?: (text: string) => void;
}

interface Pending {
  request: GenerateRequest;
  callbacks: GenerateCallbacks;
  resolve: (done: ServeDone) => void;
  reject: (error: Error) => void;
  /** the generate request has been written to the server (before that, cancelling needs no round trip). */
  sent: boolean;
}

/** The arguments of `ftune serve` for a base model (adapters are chosen per request). */
export function serveArgs(model: string, backend: string): string[] {
  return ['serve', '--model', model, '--backend', backend];
}

export function parseServeResponse(line: string): ServeResponse | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(trimmed) as { type?: unknown };
    const known = ['ready', 'token', 'done', 'error', 'count'];
    return typeof value === 'object' && value !== null && typeof value.type === 'string' && known.includes(value.type)
      ? (value as ServeResponse)
      : undefined;
  } catch {
    return undefined;
  }
}

export class ServeClient {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly queue: Pending[] = [];
  private current: Pending | undefined;
  private exited = false;
  private loaded = false;
  private stderrTail = '';
  private readonly ready: Promise<string>;
  /** token counts asked for and not answered yet (they bypass the generation queue). */
  private readonly counts = new Map<string, { resolve: (tokens: number) => void; reject: (error: Error) => void }>();
  private nextCountId = 0;

  constructor(spawn: () => ChildProcessWithoutNullStreams, private readonly log: (line: string) => void = () => {}) {
    this.child = spawn();
    let resolveReady: (backend: string) => void = () => {};
    let rejectReady: (error: Error) => void = () => {};
    this.ready = new Promise<string>((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    // a rejection nobody awaits yet (no request sent) must not crash the extension host
    this.ready.catch(() => {});
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
      const response = parseServeResponse(line);
      if (!response) {
        if (line.trim() !== '') this.log(`serve: ${line}`);
        return;
      }
      if (response.type === 'ready') {
        this.loaded = true;
        resolveReady(response.backend);
      }
      else this.onResponse(response);
    });
    this.child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      this.stderrTail = (this.stderrTail + text).slice(-2000);
      for (const line of text.split('\n')) if (line.trim() !== '') this.log(`serve: ${line}`);
    });
    this.child.on('error', (error) => this.onExit(`could not start the generation server: ${error.message}`, rejectReady));
    this.child.on('exit', (code, signal) => {
      const why = this.stderrTail.trim().split('\n').pop() ?? '';
      this.onExit(`generation server exited (${signal ?? `code ${code}`})${why ? `: ${why}` : ''}`, rejectReady);
    });
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** true once the server reported `ready` (its model is loaded). */
  get isReady(): boolean {
    return this.loaded && !this.exited;
  }

  /** The backend the server reported once its model was loaded. */
  whenReady(): Promise<string> {
    return this.ready;
  }

  /** Queues a generation; resolves with the server's `done` (cancelled ones included). */
  generate(request: GenerateRequest, callbacks: GenerateCallbacks = {}): Promise<ServeDone> {
    if (this.exited) return Promise.reject(new Error('generation server is not running'));
    return new Promise<ServeDone>((resolve, reject) => {
      this.queue.push({ request, callbacks, resolve, reject, sent: false });
      void this.pump();
    });
  }

  /**
   * Counts the tokens of a raw text, or of messages rendered by the model's chat template, with the
   * server's own tokenizer. Answered at once, even while a generation runs.
   */
  async countTokens(input: { prompt?: string; messages?: ChatMessage[] }): Promise<number> {
    if (this.exited) throw new Error('generation server is not running');
    await this.ready;
    const id = `count-${this.nextCountId++}`;
    return new Promise<number>((resolve, reject) => {
      this.counts.set(id, { resolve, reject });
      this.send({ type: 'count', id, ...input });
    });
  }

  /** Cancels a queued request at once (as a cancelled `done`), or asks the server to stop the running one. */
  cancel(id: string): void {
    const cancelled: ServeDone = { type: 'done', id, text: '', token_ids: [], prompt_tokens: 0, tokens_per_second: 0, cancelled: true };
    const index = this.queue.findIndex((p) => p.request.id === id);
    if (index >= 0) {
      const [pending] = this.queue.splice(index, 1);
      pending.resolve(cancelled);
      return;
    }
    const current = this.current;
    if (current?.request.id !== id) return;
    if (current.sent) this.send({ type: 'cancel', id });
    else this.finish(() => current.resolve(cancelled)); // still waiting for the model to load
  }

  cancelAll(): void {
    for (const pending of [...this.queue]) this.cancel(pending.request.id);
    if (this.current) this.cancel(this.current.request.id);
  }

  /** Asks the server to exit, and kills it if it has not within `graceMs`. */
  dispose(graceMs = 2000): void {
    if (this.exited) return;
    this.send({ type: 'shutdown' });
    this.child.stdin.end();
    const timer = setTimeout(() => {
      if (!this.exited) this.child.kill('SIGKILL');
    }, graceMs);
    timer.unref();
  }

  private async pump(): Promise<void> {
    if (this.current || this.queue.length === 0) return;
    const next = this.queue.shift() as Pending;
    this.current = next;
    try {
      await this.ready;
    } catch (error) {
      this.current = undefined;
      next.reject(error as Error);
      return;
    }
    if (this.current !== next) return;
    next.sent = true;
    next.callbacks.onStart?.();
    const { id, ref, prompt, messages, options } = next.request;
    this.send({ type: 'generate', id, ref, prompt, messages, options });
  }

  private onResponse(response: Exclude<ServeResponse, { type: 'ready' }>): void {
    const count = response.type === 'count' || response.type === 'error' ? this.counts.get(response.id ?? '') : undefined;
    if (count) {
      this.counts.delete(response.id as string);
      if (response.type === 'count') count.resolve(response.tokens);
      else if (response.type === 'error') count.reject(new Error(response.message));
      return;
    }
    if (response.type === 'count') return;
    const current = this.current;
    if (response.type === 'error' && (response.id === undefined || response.id === current?.request.id)) {
      if (!current) {
        this.log(`serve error: ${response.message}`);
        return;
      }
      this.finish(() => current.reject(new Error(response.message)));
      return;
    }
    if (!current || response.id !== current.request.id) return;
    if (response.type === 'token') current.callbacks.onToken?.(response.text);
    else if (response.type === 'done') this.finish(() => current.resolve(response));
  }

  private finish(settle: () => void): void {
    this.current = undefined;
    settle();
    void this.pump();
  }

  private onExit(message: string, rejectReady: (error: Error) => void): void {
    if (this.exited) return;
    this.exited = true;
    const error = new Error(message);
    rejectReady(error);
    for (const count of this.counts.values()) count.reject(error);
    this.counts.clear();
    const pending = [...(this.current ? [this.current] : []), ...this.queue.splice(0)];
    this.current = undefined;
    for (const p of pending) p.reject(error);
  }

  private send(request: ServeRequest): void {
    if (this.exited || this.child.stdin.destroyed) return;
    this.child.stdin.write(JSON.stringify(request) + '\n');
  }
}

/** One server per base model, started on first use and restarted if it died. */
export class ServePool {
  private readonly clients = new Map<string, ServeClient>();

  constructor(
    private readonly spawnServe: (model: string) => ChildProcessWithoutNullStreams,
    private readonly log: (line: string) => void = () => {},
  ) {}

  get(model: string): ServeClient {
    let client = this.clients.get(model);
    if (!client || !client.alive) {
      client = new ServeClient(() => this.spawnServe(model), this.log);
      this.clients.set(model, client);
    }
    return client;
  }

  cancelAll(): void {
    for (const client of this.clients.values()) client.cancelAll();
  }

  dispose(): void {
    for (const client of this.clients.values()) client.dispose();
    this.clients.clear();
  }
}
