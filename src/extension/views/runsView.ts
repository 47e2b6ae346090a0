// Runs view: one item per run with a status icon, model, method, progress (step/total + ETA) and the
// latest loss. contextValue `run.<status>[.resumable]` drives the Stop / Resume / … menus.

import * as vscode from 'vscode';
import type { RunStatus, RunSummary } from '../../core/runStore';
import { describeRun, problemSummary, runTooltip } from './runText';

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
    item.tooltip = new vscode.MarkdownString(runTooltip(run));
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
