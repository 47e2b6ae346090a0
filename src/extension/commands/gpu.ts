// "Finetune Studio: Check GPU": runs `ftune doctor --json` (the same process the trainer is, so it sees
// the same drivers and packages), writes the report to the output channel and says in one line what
// training will run on, with actions.
import * as vscode from 'vscode';
import type { DoctorOutput } from '../../core/protocol';
import type { Ctx } from '../context';
import { summarizeDoctorReport } from '../checkGpuReport';
import { runCliJson } from '../cliClient';

export async function checkGpu(ctx: Ctx): Promise<void> {
  const report = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Finetune Studio: checking backends and GPUs…' },
    () => runDoctor(ctx),
  );
  const setting = ctx.backend();
  const summary = summarizeDoctorReport(report, setting);
  ctx.output.appendLine(`[check gpu] backend setting: ${setting}`);
  for (const line of summary.lines) ctx.output.appendLine(`[check gpu] ${line}`);
  const actions = ['Show Report', ...(summary.suggest ? [`Use ${summary.suggest}`] : [])];
  const show = summary.severity === 'info' ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
  const choice = await show(summary.message, ...actions);
  if (choice === 'Show Report') ctx.output.show(true);
  if (summary.suggest && choice === `Use ${summary.suggest}`) {
    await vscode.workspace.getConfiguration('finetuneStudio').update('backend', summary.suggest, vscode.ConfigurationTarget.Global);
  }
}

function runDoctor(ctx: Ctx): Promise<DoctorOutput> {
  // doctor reads nothing from the workspace: Check GPU works in Restricted Mode too
  return runCliJson((args, options) => ctx.spawnCli(args, { ...options, restrictedModeSafe: true }), 'doctor', ['--json'], isDoctorReport);
}

function isDoctorReport(value: unknown): value is DoctorOutput {
  return typeof value === 'object' && value !== null && Array.isArray((value as { backends?: unknown }).backends);
}
