// Loss panel (host side): one webview per run, or per set of runs compared. Reads each run's history,
// forwards live TrainerEvents, raises the overfitting notification, and saves exports.

import * as path from 'path';
import * as vscode from 'vscode';
import { DEFAULT_OVERFIT_PATIENCE, OverfitWatcher, overfitAdvice } from '../../core/overfit';
import { isLossPanelToHost, type HostToLossPanel, type LossPanelToHost, type LossRunPayload } from '../../core/protocol';
import { readBestEvaluation, readConfig } from '../../core/runStore';
import type { PanelHost } from '../panelHost';
import { RunFeed } from './runFeed';
import { panelOptions, panelHtml } from './webviewSetup';

export const LOSS_PANEL_VIEW_TYPE = 'finetuneStudio.lossPanel';
export const STOP_AND_KEEP_BEST = 'Stop and keep best';

/** Open panels by their (sorted) set of runs, so opening the same runs again reveals the panel. */
const openPanels = new Map<string, LossPanel>();

const keyOf = (runDirs: readonly string[]): string => [...runDirs].map((d) => path.resolve(d)).sort().join('\n');

function overfitPatience(): number {
  const configured = vscode.workspace.getConfiguration('finetuneStudio').get<number>('overfitPatience');
  return typeof configured === 'number' && configured >= 1 ? Math.floor(configured) : DEFAULT_OVERFIT_PATIENCE;
}

export function openLossPanel(host: PanelHost, runDirs: string[]): LossPanel {
  const dirs = [...new Set(runDirs.map((d) => path.resolve(d)))];
  if (dirs.length === 0) throw new Error('openLossPanel needs at least one run folder');
  const existing = openPanels.get(keyOf(dirs));
  if (existing) {
    existing.reveal();
    return existing;
  }
  const panel = vscode.window.createWebviewPanel(LOSS_PANEL_VIEW_TYPE, 'Loss', vscode.ViewColumn.Active, panelOptions(host.extensionUri));
  return new LossPanel(host, panel, dirs);
}

export class LossPanel {
  private readonly feeds: RunFeed[] = [];
  private readonly labels = new Map<string, string>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly key: string;

  constructor(
    private readonly host: PanelHost,
    private readonly panel: vscode.WebviewPanel,
    private readonly runDirs: string[],
  ) {
    this.key = keyOf(runDirs);
    openPanels.set(this.key, this);
    const known = new Map(host.listRuns().map((r) => [path.resolve(r.dir), r.name]));
    for (const dir of runDirs) this.labels.set(dir, known.get(dir) ?? path.basename(dir));
    const names = runDirs.map((d) => this.labels.get(d) as string);
    panel.title = names.length === 1 ? `Loss · ${names[0]}` : `Compare · ${names.join(', ')}`;
    panel.webview.options = panelOptions(host.extensionUri);
    panel.webview.html = panelHtml(panel.webview, host.extensionUri, 'lossPanel', panel.title);

    const patience = overfitPatience();
    for (const dir of runDirs) {
      const watcher = new OverfitWatcher({ patience });
      const feed = new RunFeed(
        dir,
        { readHistory: (d) => host.readRunEvents(d), subscribe: (d, listener) => host.onRunEvent(d, listener) },
        (events) => {
          this.post({ type: 'events', run_dir: dir, events });
          for (const event of events) {
            const alarm = watcher.push(event);
            if (alarm) void this.notifyOverfitting(dir, overfitAdvice(alarm, this.labels.get(dir) ?? dir));
          }
        },
      );
      // history only primes the watcher: an alarm from the past is drawn on the chart, not notified
      for (const event of feed.events) watcher.push(event);
      this.feeds.push(feed);
    }

    this.disposables.push(
      panel.webview.onDidReceiveMessage((message: unknown) => {
        if (!isLossPanelToHost(message)) {
          host.output.appendLine(`loss panel: ignored an unexpected message ${JSON.stringify(message)?.slice(0, 200)}`);
          return;
        }
        void this.onMessage(message);
      }),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  reveal(): void {
    this.panel.reveal();
  }

  /**
   * The overfitting notification. While the run trains it offers "Stop and keep best": the run stops
   * (saving a checkpoint) and its best evaluation's weights stay in <run>/best (--best-metric).
   */
  private async notifyOverfitting(dir: string, advice: string): Promise<void> {
    const running = this.host.listRuns().find((r) => path.resolve(r.dir) === dir && r.status === 'running');
    const choice = await vscode.window.showWarningMessage(advice, ...(running ? [STOP_AND_KEEP_BEST] : []));
    if (choice !== STOP_AND_KEEP_BEST || !running) return;
    await vscode.commands.executeCommand('finetuneStudio.stopRun', running);
    const best = readBestEvaluation(dir);
    const kept = best
      ? `the best evaluation (step ${best.step}, ${best.metric} ${best.value.toPrecision(4)}) is kept in ${best.path}; it is offered first in the playground and the Checkpoints view.`
      : 'no evaluation was kept as best yet (the run has not evaluated); its last checkpoint is saved.';
    void vscode.window.showInformationMessage(`Finetune Studio: ${this.labels.get(dir) ?? dir} stopped — ${kept}`);
  }

  private post(message: HostToLossPanel): void {
    void this.panel.webview.postMessage(message);
  }

  private payloads(): LossRunPayload[] {
    return this.feeds.map((feed) => ({
      run_dir: feed.runDir,
      label: this.labels.get(feed.runDir) ?? path.basename(feed.runDir),
      config: readConfig(feed.runDir) ?? null,
      events: feed.events,
    }));
  }

  private async onMessage(message: LossPanelToHost): Promise<void> {
    switch (message.type) {
      case 'ready':
        // also after the webview was recreated (hidden then shown again): send everything again
        for (const feed of this.feeds) feed.flush();
        this.post({ type: 'init', runs: this.payloads(), overfit_patience: overfitPatience() });
        return;
      case 'exportPng': {
        const bytes = Buffer.from(message.data_url.slice(message.data_url.indexOf(',') + 1), 'base64');
        await this.save('png', bytes, { 'PNG image': ['png'] });
        return;
      }
      case 'exportCsv':
        await this.save('csv', Buffer.from(message.csv, 'utf8'), { CSV: ['csv'] });
        return;
    }
  }

  private async save(what: 'png' | 'csv', bytes: Uint8Array, filters: Record<string, string[]>): Promise<void> {
    const base = this.runDirs.length === 1 ? path.join(this.runDirs[0], `loss.${what}`) : path.join(path.dirname(this.runDirs[0]), `compare.${what}`);
    const target = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(base), filters, saveLabel: `Export ${what.toUpperCase()}` });
    if (!target) return;
    try {
      await vscode.workspace.fs.writeFile(target, bytes);
      this.post({ type: 'exported', what, path: target.fsPath });
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      this.post({ type: 'exported', what, error: text });
      void vscode.window.showErrorMessage(`Could not save ${target.fsPath}: ${text}`);
    }
  }

  private dispose(): void {
    openPanels.delete(this.key);
    for (const feed of this.feeds) feed.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

/** Restores loss panels after a window reload from the state the webview saved (its run folders). */
export class LossPanelSerializer implements vscode.WebviewPanelSerializer<unknown> {
  constructor(private readonly host: PanelHost) {}

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const saved = (state as { run_dirs?: unknown } | undefined)?.run_dirs;
    const dirs = Array.isArray(saved) ? saved.filter((d): d is string => typeof d === 'string' && d !== '') : [];
    if (dirs.length === 0) {
      panel.dispose();
      return;
    }
    const key = keyOf(dirs);
    openPanels.get(key)?.reveal();
    if (openPanels.has(key)) {
      panel.dispose();
      return;
    }
    new LossPanel(this.host, panel, dirs.map((d) => path.resolve(d)));
  }
}

export function registerLossPanelSerializer(host: PanelHost): vscode.Disposable {
  return vscode.window.registerWebviewPanelSerializer(LOSS_PANEL_VIEW_TYPE, new LossPanelSerializer(host));
}
