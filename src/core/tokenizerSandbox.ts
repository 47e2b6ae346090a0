// A model folder is untrusted input: its chat template is a program (Jinja, `{% for i in
// range(100000000) %}`) and its tokenizer.json carries regular expressions that may backtrack
// catastrophically. Either can run forever inside one synchronous call, and a synchronous call cannot
// be interrupted from its own thread. So the tokenizer lives in one long-lived worker thread, every
// call waits for it with a time budget, and a call over budget terminates the worker (V8 stops a
// worker even inside a regular expression or a template loop) and fails with a TokenizerBudgetError.
//
// The calls stay synchronous for the code that uses them (examples.ts, packing.ts, serve, ...): the
// main thread posts the request on a MessagePort, blocks in Atomics.wait on a shared flag with the
// budget as timeout, and takes the reply with receiveMessageOnPort. One round trip costs tens of
// microseconds; there is one worker per tokenizer, never one per example.

import * as path from 'path';
import { receiveMessageOnPort, MessageChannel, Worker, type MessagePort } from 'worker_threads';
import type { ChatMessage, ToolSchema } from './protocol';

export type TokenizerRequest =
  | { op: 'load'; dir: string }
  | { op: 'encode'; text: string }
  | { op: 'decode'; ids: number[]; skipSpecialTokens: boolean }
  | { op: 'render'; messages: ChatMessage[]; addGenerationPrompt: boolean; template?: RenderTemplate; tools?: ToolSchema[] };

/** Another template than the tokenizer's own, with extra template variables (exports use this). */
export interface RenderTemplate {
  chatTemplate: string;
  variables?: Record<string, string>;
}

export interface TokenizerInfo {
  chatTemplate: string | undefined;
  eosTokenId: number | undefined;
  padTokenId: number | undefined;
  vocabSize: number;
}

export type TokenizerReply =
  | { ok: true; info: TokenizerInfo }
  | { ok: true; ids: number[] }
  | { ok: true; text: string }
  | { ok: false; error: string };

export interface WorkerData {
  flag: SharedArrayBuffer;
  maxOutputChars: number;
}

/** A template render, an encode or a decode that did not finish within its budget. */
export class TokenizerBudgetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerBudgetError';
  }
}

/** Default time budget per call; FTUNE_TOKENIZER_BUDGET_MS overrides it (tests use 1 s). */
export const DEFAULT_BUDGET_MS = 10_000;
/** A rendered conversation or decoded text longer than this is refused (about 128 MB of UTF-16). */
export const MAX_OUTPUT_CHARS = 64 * 1024 * 1024;
/** Loading reads and compiles tokenizer.json (tens of MB for large vocabularies): a longer budget. */
const LOAD_BUDGET_FACTOR = 6;
/** The worker's heap: room for a large vocabulary, but a template that builds a giant list dies here. */
const WORKER_HEAP_MB = 2048;

export function budgetMs(): number {
  const fromEnv = Number(process.env.FTUNE_TOKENIZER_BUDGET_MS);
  return Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : DEFAULT_BUDGET_MS;
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toPrecision(3))} s`;
}

/**
 * The worker script: compiled next to this file (out/src/core/) and bundled next to the CLI
 * (dist/tokenizerWorker.js, scripts/build.mjs), so the same relative name works in both.
 */
const WORKER_FILE = path.join(__dirname, 'tokenizerWorker.js');

export class SandboxedTokenizer {
  private worker: Worker | undefined;
  private port: MessagePort | undefined;
  private flag: Int32Array | undefined;
  private loaded = false;

  private constructor(private readonly dir: string) {}

  /** Starts the worker and loads the tokenizer in it. */
  static load(dir: string): { tokenizer: SandboxedTokenizer; info: TokenizerInfo } {
    const tokenizer = new SandboxedTokenizer(dir);
    const info = tokenizer.start();
    return { tokenizer, info };
  }

  encode(text: string): number[] {
    return this.call({ op: 'encode', text }, 'the tokenizer', 'ids');
  }

  decode(ids: readonly number[], skipSpecialTokens: boolean): string {
    return this.call({ op: 'decode', ids: [...ids], skipSpecialTokens }, 'the tokenizer', 'text');
  }

  render(messages: readonly ChatMessage[], addGenerationPrompt: boolean, template?: RenderTemplate, tools?: readonly ToolSchema[]): string {
    // Plain objects: a message may carry fields the structured clone must copy as data.
    const request: TokenizerRequest = { op: 'render', messages: messages.map((m) => ({ ...m })), addGenerationPrompt, template };
    if (tools?.length) request.tools = [...tools];
    return this.call(request, 'the chat template', 'text');
  }

  /** Stops the worker (a later call starts a fresh one). */
  dispose(): void {
    void this.worker?.terminate();
    this.port?.close();
    this.worker = undefined;
    this.port = undefined;
    this.loaded = false;
  }

  private start(): TokenizerInfo {
    const flag = new SharedArrayBuffer(4);
    const { port1, port2 } = new MessageChannel();
    const data: WorkerData & { port: MessagePort } = { flag, maxOutputChars: MAX_OUTPUT_CHARS, port: port2 };
    this.worker = new Worker(WORKER_FILE, { workerData: data, transferList: [port2], resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    // The worker never keeps the process alive: every call waits for it synchronously anyway.
    this.worker.unref();
    // A worker that runs out of its heap (a template building a giant list) emits 'error'; unheard,
    // that would crash this process. The call waiting for it fails over budget instead.
    this.worker.on('error', () => undefined);
    this.port = port1;
    this.flag = new Int32Array(flag);
    const reply = this.send({ op: 'load', dir: this.dir }, budgetMs() * LOAD_BUDGET_FACTOR, `loading ${path.join(this.dir, 'tokenizer.json')}`);
    if (!('info' in reply)) throw new Error('tokenizer worker: unexpected reply to load');
    this.loaded = true;
    return reply.info;
  }

  private call<K extends 'ids' | 'text'>(request: TokenizerRequest, what: string, key: K): K extends 'ids' ? number[] : string {
    // A call after one that ran over budget gets a fresh worker (loading again costs about a second).
    if (!this.loaded) this.start();
    const reply = this.send(request, budgetMs(), what);
    if (!(key in reply)) throw new Error(`tokenizer worker: unexpected reply to ${request.op}`);
    return (reply as Record<K, unknown>)[key] as K extends 'ids' ? number[] : string;
  }

  private send(request: TokenizerRequest, budget: number, what: string): TokenizerReply {
    const port = this.port!;
    const flag = this.flag!;
    Atomics.store(flag, 0, 0);
    port.postMessage(request);
    if (Atomics.wait(flag, 0, 0, budget) === 'timed-out') {
      // Over budget (or the worker died, e.g. out of memory): stop it; its work is lost anyway.
      this.dispose();
      throw new TokenizerBudgetError(`${what} did not finish within ${seconds(budget)}`);
    }
    const received = receiveMessageOnPort(port);
    if (!received) throw new Error('tokenizer worker: no reply');
    const reply = received.message as TokenizerReply;
    if (!reply.ok) throw new Error(reply.error);
    return reply;
  }
}
