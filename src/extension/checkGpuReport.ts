// What "Finetune Studio: Check GPU" says, from `ftune doctor --json`. Pure (no vscode) so it is
// unit-tested; commands/gpu.ts shows it.
import { doctorReportLines } from '../core/doctorReport';
import type { DoctorReport } from '../core/protocol';
import type { BackendName } from '../core/runConfig';

export interface GpuCheckSummary {
  /** the notification's text */
  message: string;
  /** warning when training will not run on a GPU, or when the configured backend does not work */
  severity: 'info' | 'warning';
  /** the backend the trainer will use with the current `finetuneStudio.backend` setting, if any works */
  trainsOn?: Exclude<BackendName, 'auto'>;
  /** a better working backend than the configured one: offered as "Use <backend>" */
  suggest?: BackendName;
  /** the full report, one line each, for the output channel */
  lines: string[];
}

export function summarizeDoctorReport(report: DoctorReport, setting: BackendName): GpuCheckSummary {
  const lines = doctorReportLines(report);

  const entry = (name: BackendName) => report.backends.find((e) => e.backend === name);
  const configured = setting === 'auto' ? undefined : entry(setting);
  if (configured && !configured.ok) {
    return {
      message: `Finetune Studio: the configured backend "${setting}" does not work here (${configured.detail.split(' — ')[0]}).${report.auto ? ` auto would use ${report.auto}.` : ''}`,
      severity: 'warning',
      suggest: report.auto ? 'auto' : undefined,
      lines,
    };
  }
  const trainsOn = setting === 'auto' ? report.auto : setting;
  const used = trainsOn ? entry(trainsOn) : undefined;
  if (!used) return { message: 'Finetune Studio: no TensorFlow.js backend works here. See the report.', severity: 'warning', lines };
  const best = report.auto ? entry(report.auto) : undefined;
  const suggest = best?.gpu && !used.gpu ? 'auto' : undefined;
  const where = used.gpu ? `on the GPU: ${used.device ?? used.backend}` : `on the CPU (${used.backend}: ${used.device ?? ''})`;
  const message = `Finetune Studio trains ${where}.` + (
    used.gpu ? '' : suggest ? ` A GPU backend works here: ${best?.backend} (${best?.device ?? ''}).` : ' No GPU backend works here; see the report for what to install.'
  );
  return { message, severity: used.gpu ? 'info' : 'warning', trainsOn, suggest, lines };
}
