// Datasets view: every *.jsonl of the workspace with its detected format, row count and validation
// state; a file's children are its first problems as `line N: reason`, each opening the file at
// that line. Files are rescanned when they change (FileSystemWatcher).

import * as path from 'path';
import * as vscode from 'vscode';
import { readProvenanceChecked } from '../../core/datasets/provenance';
import { describeProvenance } from '../datasetFlow';
import { describeMapping, formatLabel, scanJsonlFile, type DatasetIssue, type DatasetScan } from '../datasetScan';

const EXCLUDE = '{**/node_modules/**,**/.finetune/**,**/.git/**}';
const MAX_FILES = 500;

type Entry = { kind: 'file'; uri: vscode.Uri } | { kind: 'issue'; uri: vscode.Uri; issue: DatasetIssue } | { kind: 'more'; uri: vscode.Uri; count: number };

export class DatasetsProvider implements vscode.TreeDataProvider<Entry>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Entry | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly files = new Map<string, vscode.Uri>();
  private readonly scans = new Map<string, DatasetScan | Error>();
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly disposables: vscode.Disposable[] = [];
  private loaded: Promise<void> | undefined;

  constructor() {
    const watcher = vscode.workspace.createFileSystemWatcher('**/*.jsonl');
    this.disposables.push(
      watcher,
      watcher.onDidCreate((uri) => this.track(uri)),
      watcher.onDidChange((uri) => this.track(uri)),
      watcher.onDidDelete((uri) => this.forget(uri)),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.refresh()),
      this.changed,
    );
  }

  refresh(): void {
    this.files.clear();
    this.scans.clear();
    this.loaded = undefined;
    this.changed.fire(undefined);
  }

  /** The scan of a file (scanning it now if needed). */
  async scanOf(uri: vscode.Uri): Promise<DatasetScan> {
    const known = this.scans.get(uri.toString());
    if (known && !(known instanceof Error)) return known;
    const scan = await scanJsonlFile(uri.fsPath);
    this.scans.set(uri.toString(), scan);
    return scan;
  }

  /** All dataset files found in the workspace. */
  async list(): Promise<vscode.Uri[]> {
    await this.load();
    return [...this.files.values()];
  }

  getTreeItem(entry: Entry): vscode.TreeItem {
    if (entry.kind === 'issue') {
      const item = new vscode.TreeItem(`line ${entry.issue.line}: ${entry.issue.reason}`, vscode.TreeItemCollapsibleState.None);
      item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'));
      item.tooltip = `${vscode.workspace.asRelativePath(entry.uri)}:${entry.issue.line}\n${entry.issue.reason}`;
      const line = Math.max(0, entry.issue.line - 1);
      item.command = { command: 'vscode.open', title: 'Open at line', arguments: [entry.uri, { selection: new vscode.Range(line, 0, line, 0) }] };
      item.contextValue = 'datasetIssue';
      return item;
    }
    if (entry.kind === 'more') {
      const item = new vscode.TreeItem(`… ${entry.count} more problems`, vscode.TreeItemCollapsibleState.None);
      item.command = { command: 'vscode.open', title: 'Open', arguments: [entry.uri] };
      return item;
    }
    const scan = this.scans.get(entry.uri.toString());
    const item = new vscode.TreeItem(path.basename(entry.uri.fsPath), vscode.TreeItemCollapsibleState.None);
    item.resourceUri = entry.uri;
    item.contextValue = 'dataset';
    item.command = { command: 'vscode.open', title: 'Open', arguments: [entry.uri] };
    const where = vscode.workspace.asRelativePath(path.dirname(entry.uri.fsPath));
    // a new id once scanned, so VS Code applies the Expanded state of files with problems
    item.id = `${entry.uri.toString()}#${scan ? 'scanned' : 'pending'}`;
    if (!scan) {
      item.description = 'scanning…';
      item.iconPath = new vscode.ThemeIcon('loading~spin');
      void this.scan(entry.uri);
      return item;
    }
    if (scan instanceof Error) {
      item.description = `unreadable: ${scan.message}`;
      item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('list.errorForeground'));
      return item;
    }
    const mapping = describeMapping(scan.fields);
    const problems = scan.issueCount ? ` · ${scan.issueCount} problem${scan.issueCount === 1 ? '' : 's'}` : ' · valid';
    // where the file came from (Hub id + revision, source folders, split of …) and its role, from <file>.source.json
    // a .source.json that fails its schema is shown as a warning with the reason, never used
    const { provenance, problem: provenanceProblem } = readProvenanceChecked(entry.uri.fsPath);
    const origin = provenance ? describeProvenance(provenance, (f) => vscode.workspace.asRelativePath(f)) : undefined;
    item.description = `${formatLabel(scan.format)} · ${scan.rows} rows${problems}${origin ? ` · ${origin.description}` : ''}${provenanceProblem ? ` · ⚠ ${provenanceProblem}` : ''}`;
    item.tooltip = new vscode.MarkdownString(
      [`**${vscode.workspace.asRelativePath(entry.uri)}**`, `Format: ${formatLabel(scan.format)}${mapping ? ` (${mapping})` : ''}`, `Rows: ${scan.rows}`, scan.issueCount ? `Problems: ${scan.issueCount} (the trainer skips those rows)` : 'No problems found', where !== '.' ? `Folder: ${where}` : '', ...(origin?.tooltip ?? []).map(escapeMarkdown), provenanceProblem ? escapeMarkdown(`Invalid provenance, ignored: ${provenanceProblem}`) : ''].filter(Boolean).join('\n\n'),
    );
    const broken = scan.format === 'unknown' || scan.issueCount >= scan.rows;
    item.iconPath = scan.issueCount === 0 && !provenanceProblem
      ? new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed'))
      : new vscode.ThemeIcon(broken ? 'error' : 'warning', new vscode.ThemeColor(broken ? 'list.errorForeground' : 'list.warningForeground'));
    if (scan.issueCount > 0) item.collapsibleState = vscode.TreeItemCollapsibleState.Expanded;
    return item;
  }

  async getChildren(entry?: Entry): Promise<Entry[]> {
    if (!entry) {
      await this.load();
      return [...this.files.values()]
        .sort((a, b) => vscode.workspace.asRelativePath(a).localeCompare(vscode.workspace.asRelativePath(b)))
        .map((uri) => ({ kind: 'file', uri }));
    }
    if (entry.kind !== 'file') return [];
    const scan = this.scans.get(entry.uri.toString());
    if (!scan || scan instanceof Error) return [];
    const children: Entry[] = scan.issues.map((issue) => ({ kind: 'issue', uri: entry.uri, issue }));
    if (scan.issueCount > scan.issues.length) children.push({ kind: 'more', uri: entry.uri, count: scan.issueCount - scan.issues.length });
    return children;
  }

  private load(): Promise<void> {
    this.loaded ??= (async () => {
      const uris = await vscode.workspace.findFiles('**/*.jsonl', EXCLUDE, MAX_FILES);
      for (const uri of uris) this.files.set(uri.toString(), uri);
    })();
    return this.loaded;
  }

  private async scan(uri: vscode.Uri): Promise<void> {
    try {
      this.scans.set(uri.toString(), await scanJsonlFile(uri.fsPath));
    } catch (error) {
      this.scans.set(uri.toString(), error as Error);
    }
    this.changed.fire(undefined);
  }

  /** Debounced: an editor saving or a tool appending fires many change events. */
  private track(uri: vscode.Uri): void {
    if (/[\\/](node_modules|\.finetune|\.git)[\\/]/.test(uri.fsPath)) return;
    const key = uri.toString();
    clearTimeout(this.pending.get(key));
    this.pending.set(key, setTimeout(() => {
      this.pending.delete(key);
      this.files.set(key, uri);
      this.scans.delete(key);
      this.changed.fire(undefined);
    }, 300));
  }

  private forget(uri: vscode.Uri): void {
    this.files.delete(uri.toString());
    this.scans.delete(uri.toString());
    this.changed.fire(undefined);
  }

  dispose(): void {
    for (const timer of this.pending.values()) clearTimeout(timer);
    for (const d of this.disposables) d.dispose();
  }
}

/** Provenance text (Hub ids, paths) is shown literally in the Markdown tooltip. */
function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+!|<>~]/g, '\\$&');
}
