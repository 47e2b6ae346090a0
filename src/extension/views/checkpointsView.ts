// Checkpoints view: runs that saved anything, each with its checkpoints (step + eval loss) and the
// final adapter. Items open in the playground or copy their path.

import * as vscode from 'vscode';
import type { RunSummary } from '../../core/runStore';
import { statusIcon, type RunsSource } from './runsView';

export type CheckpointEntry =
  | { kind: 'run'; run: RunSummary }
  | { kind: 'checkpoint'; run: RunSummary; step: number; path: string; eval_loss?: number; final: boolean };

export class CheckpointsProvider implements vscode.TreeDataProvider<CheckpointEntry>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<CheckpointEntry | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly source: RunsSource) {
    this.subscription = source.onDidChange(() => this.changed.fire(undefined));
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  getTreeItem(entry: CheckpointEntry): vscode.TreeItem {
    if (entry.kind === 'run') {
      const item = new vscode.TreeItem(entry.run.name, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `run:${entry.run.id}`;
      item.iconPath = statusIcon(entry.run.status);
      const count = entry.run.checkpoints.length;
      item.description = `${count} checkpoint${count === 1 ? '' : 's'}${entry.run.adapter ? ' + adapter' : ''}`;
      item.contextValue = 'checkpointRun';
      return item;
    }
    const label = entry.final ? `adapter (final, step ${entry.step})` : `step ${entry.step}`;
    const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None);
    item.id = `ckpt:${entry.path}`;
    item.iconPath = new vscode.ThemeIcon(entry.final ? 'package' : 'save');
    item.description = entry.eval_loss !== undefined ? `eval loss ${entry.eval_loss.toFixed(4)}` : '';
    item.tooltip = entry.path;
    item.contextValue = 'checkpoint';
    item.resourceUri = vscode.Uri.file(entry.path);
    return item;
  }

  getChildren(entry?: CheckpointEntry): CheckpointEntry[] {
    if (!entry) {
      return this.source.list().filter((r) => r.checkpoints.length > 0 || r.adapter).map((run) => ({ kind: 'run', run }));
    }
    if (entry.kind !== 'run') return [];
    const { run } = entry;
    const items: CheckpointEntry[] = run.checkpoints.map((c) => ({ kind: 'checkpoint', run, step: c.step, path: c.path, eval_loss: c.eval_loss, final: false }));
    if (run.adapter) items.push({ kind: 'checkpoint', run, step: run.step, path: run.adapter, eval_loss: run.eval_loss, final: true });
    return items;
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
