// "Export…" on a Checkpoints item: pick a target, confirm the folder, run the bundled `ftune export`
// (the same way the trainer is spawned) under a cancellable progress notification.

import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { runCli as runCliProcess, type CliOutcome } from '../cliClient';
import type { Ctx } from '../context';
import { isExportResult } from '../../core/protocol';
import { defaultExportDir, exportArgs, exportChoicesFor, exportMessage, type CheckpointWeights } from '../exportArgs';
import type { CheckpointEntry } from '../views/checkpointsView';

type CheckpointItem = Extract<CheckpointEntry, { kind: 'checkpoint' }>;

function weightsOf(dir: string): CheckpointWeights | undefined {
  if (fs.existsSync(path.join(dir, 'adapter_config.json'))) return 'adapter';
  if (fs.existsSync(path.join(dir, 'config.json'))) return 'full';
  return undefined;
}

/** Tree item argument, or the checkpoint selected in the view (command palette / keybinding). */
function checkpointFrom(ctx: Ctx, arg: unknown): CheckpointItem | undefined {
  const entry = (arg ?? ctx.checkpointsTree.selection[0]) as Partial<CheckpointEntry> | undefined;
  return entry?.kind === 'checkpoint' && entry.run && typeof entry.path === 'string' ? (entry as CheckpointItem) : undefined;
}

export async function exportCheckpoint(ctx: Ctx, arg?: unknown): Promise<void> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage('Finetune Studio: exporting runs the ftune CLI on workspace files; trust the workspace first.');
    return;
  }
  const entry = checkpointFrom(ctx, arg);
  if (!entry) {
    void vscode.window.showInformationMessage('Finetune Studio: right-click a checkpoint in the Checkpoints view and choose Export….');
    return;
  }
  const weights = weightsOf(entry.path);
  if (!weights) {
    void vscode.window.showErrorMessage(`Finetune Studio: ${entry.path} holds neither adapter_config.json nor config.json.`);
    return;
  }
  const picked = await vscode.window.showQuickPick(
    exportChoicesFor(weights).map((choice) => ({ label: choice.label, detail: choice.detail, choice })),
    { placeHolder: `Export ${entry.final ? 'the final adapter' : `step ${entry.step}`} of ${entry.run.name} as…`, matchOnDetail: true },
  );
  if (!picked) return;
  const out = await vscode.window.showInputBox({
    title: `Export ${picked.choice.label}`,
    prompt: 'Output folder (created if missing; existing files with the same names are replaced)',
    value: defaultExportDir(entry.run.dir, picked.choice.id, entry.step, entry.final),
    ignoreFocusOut: true,
    validateInput: (value) => (value.trim() ? undefined : 'an output folder is needed'),
  });
  if (!out?.trim()) return;
  const outDir = path.resolve(entry.run.dir, out.trim());
  const args = exportArgs({ choice: picked.choice.id, checkpointPath: entry.path, weights, runDir: entry.run.dir, out: outDir });

  ctx.output.appendLine(`[export] ftune ${args.join(' ')}`);
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Exporting ${picked.choice.label}`, cancellable: true },
    (_progress, cancel) => runCli(ctx, args, entry.run.dir, cancel),
  );
  if (result.cancelled) {
    ctx.output.appendLine('[export] cancelled');
    return;
  }
  if (result.code === 0) {
    const exported = isExportResult(result.json) ? result.json : undefined;
    const show = exported?.warnings.length ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    const choice = await show(exportMessage(outDir, exported), 'Reveal', 'Copy Path');
    if (choice === 'Reveal') await reveal(outDir);
    if (choice === 'Copy Path') await vscode.env.clipboard.writeText(outDir);
    return;
  }
  const reason = result.error ?? `ftune export exited with code ${result.code}`;
  const choice = await vscode.window.showErrorMessage(`Finetune Studio: export failed: ${reason}`, 'Show Log');
  if (choice === 'Show Log') ctx.output.show(true);
}

/** Runs `ftune export ...`, copying its output into the output channel; killed on cancel. */
function runCli(ctx: Ctx, args: string[], cwd: string, cancel: vscode.CancellationToken): Promise<CliOutcome> {
  return runCliProcess((a, o) => ctx.spawnCli(a, o), args, { cwd, cancel, onLine: (line) => ctx.output.appendLine(`[export] ${line}`) });
}

async function reveal(dir: string): Promise<void> {
  const uri = vscode.Uri.file(dir);
  // the OS file manager where there is one; in a browser-hosted VS Code, the Explorer
  if (vscode.env.uiKind === vscode.UIKind.Desktop && vscode.env.remoteName === undefined) await vscode.commands.executeCommand('revealFileInOS', uri);
  else await vscode.commands.executeCommand('revealInExplorer', uri);
}
