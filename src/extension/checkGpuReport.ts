// What "Finetune Studio: Check GPU" says, from `ftune doctor --json`. Pure (no vscode) so it is
// unit-tested; checkGpu.ts shows it.
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

const KIB = 2 ** 30;

export function summarizeDoctorReport(report: DoctorReport, setting: BackendName): GpuCheckSummary {
  const lines = report.backends.map((e) => `${e.ok ? '✓' : '✗'} ${e.backend.padEnd(10)} ${e.gpu ? '[GPU] ' : ''}${e.device ?? ''}  ${e.detail}`);
  const m = report.memory;
  lines.push(`memory: ${(m.free_bytes / KIB).toFixed(1)} GiB free of ${(m.total_bytes / KIB).toFixed(1)} GiB, ${m.cpus} CPU cores`);
  lines.push(report.auto ? `auto (the default) uses: ${report.auto}` : 'no backend works');
  if (report.advice) lines.push(report.advice);

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
