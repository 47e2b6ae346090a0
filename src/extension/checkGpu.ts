// "Finetune Studio: Check GPU": runs `ftune doctor --json` (the same process the trainer is, so it sees
// the same drivers and packages), writes the report to the output channel and says in one line what
// training will run on, with actions.
import * as readline from 'readline';
import * as vscode from 'vscode';
import type { DoctorReport } from '../core/protocol';
import type { Ctx } from './context';
import { summarizeDoctorReport } from './checkGpuReport';

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

function runDoctor(ctx: Ctx): Promise<DoctorReport> {
  return new Promise((resolve, reject) => {
    // doctor reads nothing from the workspace: Check GPU works in Restricted Mode too
    const child = ctx.spawnCli(['doctor', '--json'], { restrictedModeSafe: true });
    let report: DoctorReport | undefined;
    let error: string | undefined;
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('{')) report = JSON.parse(line) as DoctorReport;
    });
    readline.createInterface({ input: child.stderr }).on('line', (line) => {
      const match = /ftune: error: (.*)/.exec(line);
      if (match) error = match[1];
    });
    child.on('error', (e) => reject(new Error(`could not start the ftune CLI: ${e.message}`)));
    child.on('close', (code) => {
      if (report) resolve(report);
      else reject(new Error(error ?? `ftune doctor exited with code ${code} without a report`));
    });
  });
}
