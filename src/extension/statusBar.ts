// Status-bar item: spinner, run name, percent and loss while a run trains; the queue length while
// runs wait; hidden otherwise. Clicking it shows the Runs view.

import * as vscode from 'vscode';
import type { RunSummary } from '../core/runStore';

export class TrainingStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('finetuneStudio.training', vscode.StatusBarAlignment.Left, 50);

  constructor() {
    this.item.name = 'Finetune Studio training';
    this.item.command = 'finetuneStudio.runs.focus';
  }

  update(runs: readonly RunSummary[]): void {
    try {
      this.show(runs);
    } catch {
      // never let one odd run break activation or the refresh loop: the Runs view shows what is wrong
      this.item.hide();
    }
  }

  private show(runs: readonly RunSummary[]): void {
    const running = runs.filter((r) => r.status === 'running');
    const queued = runs.filter((r) => r.status === 'queued').length;
    if (running.length === 0 && queued === 0) {
      this.item.hide();
      return;
    }
    if (running.length === 0) {
      this.item.text = `$(clock) ${queued} run${queued === 1 ? '' : 's'} queued`;
      this.item.tooltip = 'Finetune Studio: runs waiting to train';
    } else {
      const run = running[0];
      const pct = run.total_steps > 0 ? ` ${Math.floor((100 * run.step) / run.total_steps)}%` : '';
      const loss = run.loss !== undefined ? ` · loss ${run.loss.toFixed(3)}` : '';
      const more = running.length > 1 ? ` (+${running.length - 1})` : '';
      this.item.text = `$(sync~spin) ${run.name}${pct}${loss}${more}`;
      this.item.tooltip = `Finetune Studio: training ${run.name} — step ${run.step}/${run.total_steps}${queued ? `, ${queued} queued` : ''}`;
    }
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
