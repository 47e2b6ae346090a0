// Checkpoints view: runs that saved anything, each with its best evaluation's weights (starred, first),
// its checkpoints (step + eval loss) and the final adapter. Items open in the playground or copy their path.

import * as vscode from 'vscode';
import { checkpointEntries, checkpointLabel, checkpointRunDescription, checkpointTooltip, type CheckpointEntry } from './checkpointEntries';
import { statusIcon, type RunsSource } from './runsView';

export type { CheckpointEntry } from './checkpointEntries';

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
      item.description = checkpointRunDescription(entry.run);
      item.contextValue = 'checkpointRun';
      return item;
    }
    const { label, description } = checkpointLabel(entry);
    const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None);
    item.id = `ckpt:${entry.path}`;
    item.iconPath = new vscode.ThemeIcon(entry.best === 'folder' ? 'star-full' : entry.final ? 'package' : 'save');
    item.description = description;
    item.tooltip = checkpointTooltip(entry);
    item.contextValue = 'checkpoint';
    item.resourceUri = vscode.Uri.file(entry.path);
    return item;
  }

  getChildren(entry?: CheckpointEntry): CheckpointEntry[] {
    if (!entry) {
      return this.source.list().filter((r) => r.checkpoints.length > 0 || r.adapter || r.best).map((run) => ({ kind: 'run', run }));
    }
    if (entry.kind !== 'run') return [];
    return checkpointEntries(entry.run);
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
