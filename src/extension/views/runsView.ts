// Runs view: one item per run with a status icon, model, method, progress (step/total + ETA) and the
// latest loss. contextValue `run.<status>[.resumable]` drives the Stop / Resume / … menus.

import * as path from 'path';
import * as vscode from 'vscode';
import { formatDuration } from '../../core/estimate';
import { isMethod, methodSpec } from '../../core/methods';
import { headlineMetric, type RunStatus, type RunSummary } from '../../core/runStore';

export interface RunsSource {
  list(): RunSummary[];
  queuePosition(runId: string): number;
  readonly onDidChange: vscode.Event<void>;
}

export function statusIcon(status: RunStatus): vscode.ThemeIcon {
  switch (status) {
    case 'running':
      return new vscode.ThemeIcon('sync~spin', new vscode.ThemeColor('charts.blue'));
    case 'queued':
      return new vscode.ThemeIcon('clock');
    case 'completed':
      return new vscode.ThemeIcon('pass-filled', new vscode.ThemeColor('testing.iconPassed'));
    case 'failed':
      return new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed'));
    case 'stopped':
      return new vscode.ThemeIcon('debug-pause', new vscode.ThemeColor('charts.yellow'));
  }
}

export function progressText(run: RunSummary): string {
  if (run.total_steps <= 0) return '';
  const pct = Math.floor((100 * run.step) / run.total_steps);
  return `${run.step}/${run.total_steps} (${pct}%)`;
}

export function describeRun(run: RunSummary, queuePosition = 0): string {
  const parts: string[] = [];
  if (run.status === 'queued') parts.push(queuePosition > 0 ? `queued #${queuePosition}` : 'queued');
  else if (run.status === 'running') {
    parts.push(progressText(run) || 'starting…');
    if (run.eta_seconds !== undefined) parts.push(`ETA ${formatDuration(run.eta_seconds)}`);
  } else {
    parts.push(run.status);
    if (run.status !== 'completed' && run.total_steps > 0) parts.push(`step ${run.step}/${run.total_steps}`);
  }
  if (run.loss !== undefined) parts.push(`loss ${run.loss.toFixed(4)}`);
  const headline = headlineMetric(run);
  if (headline) parts.push(headline);
  return parts.join(' · ');
}

/** "metrics.jsonl:3: loss: expected number" (+ how many more) for the description of a run with bad files. */
export function problemSummary(problems: readonly string[]): string {
  return `⚠ ${problems[0]}${problems.length > 1 ? ` (+${problems.length - 1} more)` : ''}`;
}

export class RunsProvider implements vscode.TreeDataProvider<RunSummary>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunSummary | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: vscode.Disposable;
  private runs: RunSummary[] = [];

  constructor(private readonly source: RunsSource) {
    this.subscription = source.onDidChange(() => this.refresh());
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  getTreeItem(run: RunSummary): vscode.TreeItem {
    try {
      return this.treeItem(run);
    } catch (error) {
      // a view never breaks on one run: show it with the reason
      const item = new vscode.TreeItem(run.name || run.id, vscode.TreeItemCollapsibleState.None);
      item.id = run.id;
      item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'));
      item.description = `cannot be shown: ${(error as Error).message}`;
      item.contextValue = 'run.invalid';
      return item;
    }
  }

  private treeItem(run: RunSummary): vscode.TreeItem {
    const item = new vscode.TreeItem(run.name, vscode.TreeItemCollapsibleState.None);
    item.id = run.id;
    item.iconPath = run.problems?.length ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground')) : statusIcon(run.status);
    item.description = [describeRun(run, this.source.queuePosition(run.id)), ...(run.problems?.length ? [problemSummary(run.problems)] : [])].filter(Boolean).join(' · ');
    item.contextValue = `run.${run.status}${run.resumable ? '.resumable' : ''}`;
    const method = `${isMethod(run.method) ? methodSpec(run.method).label : run.method} · ${run.full ? 'full' : `LoRA r=${run.config?.lora_r ?? '?'}`}`;
    const lines = [
      `**${run.name}** — ${run.status}`,
      `Model: ${path.basename(run.model) || '?'} (${run.model})`,
      `Method: ${method}${run.backend ? ` · backend ${run.backend}` : ''}`,
      run.config ? `Data: ${path.basename(run.config.data)}` : '',
      run.total_steps ? `Progress: ${progressText(run)}${run.eta_seconds !== undefined ? ` · ETA ${formatDuration(run.eta_seconds)}` : ''}` : '',
      run.loss !== undefined ? `Loss: ${run.loss.toFixed(4)}${run.eval_loss !== undefined ? ` · eval ${run.eval_loss.toFixed(4)}` : ''}` : '',
      run.metrics ? `Metrics: ${Object.entries(run.metrics).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' · ')}` : '',
      run.tokens_per_second ? `Speed: ${Math.round(run.tokens_per_second)} tokens/s` : '',
      run.error ? `Error: ${run.error}` : '',
      ...(run.problems ?? []).map((p) => `Invalid file, ignored: ${p}`),
      `Folder: ${run.dir}`,
    ];
    item.tooltip = new vscode.MarkdownString(lines.filter(Boolean).join('\n\n'));
    return item;
  }

  getChildren(run?: RunSummary): RunSummary[] {
    if (run) return [];
    this.runs = this.source.list();
    return this.runs;
  }

  getParent(): undefined {
    return undefined;
  }

  /**
   * The element the tree last received for `runId` — TreeView.reveal needs that very object — waiting
   * (up to `timeoutMs`) for the refresh that brings a just-created run into the tree.
   */
  async shown(runId: string, timeoutMs = 3000): Promise<RunSummary | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const run = this.runs.find((r) => r.id === runId);
      if (run || Date.now() > deadline) return run;
      this.refresh();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
