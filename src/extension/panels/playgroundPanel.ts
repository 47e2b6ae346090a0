// Playground (host side): a single panel. Generation runs in `ftune serve --model DIR` child processes,
// one per base model (kept loaded), adapters chosen per request; tokens are streamed to the webview.

import * as vscode from 'vscode';
import { RestrictedModeError } from '../trust';
import { whenTrusted } from './webviewSetup';
import {
  isPlaygroundToHost,
  type DecodingOptions,
  type GenerationJob,
  type HostToPlayground,
  type ModelChoice,
  type ModelRef,
  type PlaygroundToHost,
} from '../../core/protocol';
import { readGoldenSet, runGoldenSet } from './goldenSet';
import type { PanelHost } from '../panelHost';
import { modelChoices } from './modelChoices';
import { serveArgs, ServePool, type ServeClient } from './serveClient';
import { panelHtml, panelOptions } from './webviewSetup';
import { PLAYGROUND_DECODING_KEY } from '../selection/runSelection';
import { ArenaHost } from '../arena/arenaHost';
import { isArenaToHost } from '../../core/arenaProtocol';

export const PLAYGROUND_VIEW_TYPE = 'finetuneStudio.playground';

let current: PlaygroundPanel | undefined;

export function openPlayground(host: PanelHost, preselect?: { model: string; adapter?: string }): PlaygroundPanel {
  if (current) {
    current.reveal();
    if (preselect) current.preselect(preselect);
    return current;
  }
  const panel = vscode.window.createWebviewPanel(PLAYGROUND_VIEW_TYPE, 'Playground', vscode.ViewColumn.Active, {
    ...panelOptions(host.extensionUri),
    // a generation streams into the page: keep it alive while the tab is in the background
    retainContextWhenHidden: true,
  });
  return new PlaygroundPanel(host, panel, preselect);
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export class PlaygroundPanel {
  private readonly pool: ServePool;
  private readonly disposables: vscode.Disposable[] = [];
  /** incremented by Stop: loops started before it (golden set) see the change and end. */
  private generation = 0;
  private pendingPreselect: ModelRef | undefined;
  private ready = false;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private lastChoicesKey = '';
  private readonly arena: ArenaHost;

  constructor(
    private readonly host: PanelHost,
    private readonly panel: vscode.WebviewPanel,
    preselect?: ModelRef,
  ) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the one open playground, for "Open Playground" to reveal
    current = this;
    this.pendingPreselect = preselect;
    this.pool = new ServePool(
      (model) => host.spawnCli(serveArgs(model, host.backend())),
      (line) => host.output.appendLine(line),
    );
    panel.webview.options = panelOptions(host.extensionUri);
    panel.webview.html = panelHtml(panel.webview, host.extensionUri, 'playground', 'Playground');
    this.arena = new ArenaHost(this.pool, (message) => void panel.webview.postMessage(message));
    this.disposables.push(
      panel.webview.onDidReceiveMessage((message: unknown) => {
        if (isArenaToHost(message)) {
          this.arena.handle(message).catch((error: unknown) => void panel.webview.postMessage({ type: 'arenaError', message: errorText(error) }));
          return;
        }
        if (!isPlaygroundToHost(message)) {
          host.output.appendLine(`playground: ignored an unexpected message ${JSON.stringify(message)?.slice(0, 200)}`);
          return;
        }
        void this.onMessage(message);
      }),
      panel.onDidDispose(() => this.dispose()),
      host.onDidChangeRuns(() => this.refreshChoicesSoon()),
    );
  }

  reveal(): void {
    this.panel.reveal();
  }

  preselect(ref: ModelRef): void {
    if (this.ready) this.post({ type: 'preselect', ref });
    else this.pendingPreselect = ref;
  }

  private post(message: HostToPlayground): void {
    void this.panel.webview.postMessage(message);
  }

  /** Models of the runs, plus the folders the host knows (recently used, in the workspace). */
  private async choices(extra: string[] = []): Promise<ModelChoice[]> {
    let known: string[] = [];
    try {
      known = (await this.host.knownModels()).map((m) => m.dir);
    } catch (error) {
      this.host.output.appendLine(`playground: could not list known models: ${errorText(error)}`);
    }
    return modelChoices(this.host.listRuns(), [...extra, ...known]);
  }

  /** Runs progress all the time; the choices only change when a run gains a checkpoint or adapter. */
  private refreshChoicesSoon(): void {
    if (!this.ready || this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      void this.choices().then((choices) => {
        const key = JSON.stringify(choices);
        if (key === this.lastChoicesKey) return;
        this.lastChoicesKey = key;
        this.post({ type: 'choices', choices });
      });
    }, 1000);
  }

  private async onMessage(message: PlaygroundToHost): Promise<void> {
    switch (message.type) {
      case 'ready': {
        this.ready = true;
        const preselect = this.pendingPreselect;
        this.pendingPreselect = undefined;
        const choices = await this.choices(preselect ? [preselect.model] : []);
        this.lastChoicesKey = JSON.stringify(choices);
        this.post({ type: 'init', choices, preselect });
        return;
      }
      case 'pick':
        await this.pick(message.purpose, message.column_id);
        return;
      case 'generate':
        if (!this.trusted()) return;
        // Run Selection on Models uses the playground's last settings (selection/runSelection.ts)
        void this.host.extensionContext.globalState.update(PLAYGROUND_DECODING_KEY, message.options);
        this.generate(message.request_id, message.jobs, message.options);
        return;
      case 'runGolden':
        if (!this.trusted()) return;
        await this.runGolden(message);
        return;
      case 'stop':
        this.generation += 1;
        this.pool.cancelAll();
        return;
      case 'openText': {
        const document = await vscode.workspace.openTextDocument({ content: message.content, language: 'markdown' });
        await vscode.window.showTextDocument(document, { preview: true, viewColumn: vscode.ViewColumn.Beside });
        return;
      }
    }
  }

  /** Every message that starts `ftune serve` checks trust first (a restored or long-open panel included). */
  private trusted(): boolean {
    if (vscode.workspace.isTrusted) return true;
    void vscode.window.showWarningMessage(`Finetune Studio: ${new RestrictedModeError('the playground').message}.`, 'Manage Workspace Trust').then((c) => c && vscode.commands.executeCommand('workbench.trust.manage'));
    return false;
  }

  private async pick(purpose: 'model' | 'adapter' | 'golden', columnId?: string): Promise<void> {
    const golden = purpose === 'golden';
    const picked = await vscode.window.showOpenDialog({
      canSelectFiles: golden,
      canSelectFolders: !golden,
      canSelectMany: false,
      filters: golden ? { 'JSON Lines': ['jsonl'] } : undefined,
      openLabel: golden ? 'Use as golden set' : purpose === 'model' ? 'Use model folder' : 'Use adapter folder',
      title: golden ? 'Golden set (JSONL with question/answer)' : purpose === 'model' ? 'Base model folder (config.json + safetensors)' : 'Adapter folder (adapter_config.json)',
    });
    const uri = picked?.[0];
    if (!uri) return;
    if (purpose === 'model') await this.host.rememberModel(uri.fsPath);
    this.post({ type: 'picked', purpose, path: uri.fsPath, column_id: columnId });
  }

  /** The column's server, and its status: "loading" until the model is loaded, then "queued" behind other requests. */
  private clientFor(ref: ModelRef, requestId: string, columnId: string): ServeClient {
    const client = this.pool.get(ref.model);
    this.post({ type: 'columnStatus', request_id: requestId, column_id: columnId, status: client.isReady ? 'queued' : 'loading' });
    return client;
  }

  private generate(requestId: string, jobs: GenerationJob[], options: DecodingOptions): void {
    for (const job of jobs) {
      const client = this.clientFor(job.ref, requestId, job.column_id);
      client
        .generate(
          { id: `${requestId}/${job.column_id}`, ref: job.ref, prompt: job.prompt, messages: job.messages, options },
          {
            onStart: () => this.post({ type: 'columnStatus', request_id: requestId, column_id: job.column_id, status: 'generating' }),
            onToken: (text) => this.post({ type: 'token', request_id: requestId, column_id: job.column_id, text }),
          },
        )
        .then(
          (done) =>
            this.post({
              type: 'columnDone',
              request_id: requestId,
              column_id: job.column_id,
              text: done.text,
              new_tokens: done.token_ids.length,
              tokens_per_second: done.tokens_per_second,
              cancelled: done.cancelled,
            }),
          (error: unknown) => this.post({ type: 'columnError', request_id: requestId, column_id: job.column_id, message: errorText(error) }),
        );
    }
  }

  private async runGolden(message: Extract<PlaygroundToHost, { type: 'runGolden' }>): Promise<void> {
    const { request_id: requestId, columns, options } = message;
    const generation = this.generation;
    let examples;
    try {
      examples = await readGoldenSet(message.file, message.count);
    } catch (error) {
      this.post({ type: 'goldenError', request_id: requestId, message: errorText(error) });
      return;
    }
    await runGoldenSet(examples, columns, message.mode, message.system, requestId, {
      stopped: () => this.generation !== generation,
      generate: (column, id, prompt) => {
        const client = this.clientFor(column.ref, requestId, column.column_id);
        return client.generate(
          { id, ref: column.ref, ...prompt, options },
          { onStart: () => this.post({ type: 'columnStatus', request_id: requestId, column_id: column.column_id, status: 'generating' }) },
        );
      },
      onExample: (column, result, total) => this.post({ type: 'goldenExample', request_id: requestId, column_id: column.column_id, total, result }),
      onDone: (column, { correct, scored, cancelled }) =>
        this.post({ type: 'goldenDone', request_id: requestId, column_id: column.column_id, correct, total: scored, cancelled }),
      onError: (column, text) => this.post({ type: 'columnError', request_id: requestId, column_id: column.column_id, message: text }),
    });
  }

  private dispose(): void {
    if (current === this) current = undefined;
    this.generation += 1;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.pool.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

/** Restores the playground after a window reload; its columns and transcript come back from the webview's own state. */
export class PlaygroundSerializer implements vscode.WebviewPanelSerializer<unknown> {
  constructor(private readonly host: PanelHost) {}

  async deserializeWebviewPanel(panel: vscode.WebviewPanel): Promise<void> {
    if (current) {
      panel.dispose();
      current.reveal();
      return;
    }
    // the playground runs `ftune serve` on model folders: in Restricted Mode it waits for trust
    whenTrusted(panel, 'Playground', () => new PlaygroundPanel(this.host, panel));
  }
}

export function registerPlaygroundSerializer(host: PanelHost): vscode.Disposable {
  return vscode.window.registerWebviewPanelSerializer(PLAYGROUND_VIEW_TYPE, new PlaygroundSerializer(host));
}
