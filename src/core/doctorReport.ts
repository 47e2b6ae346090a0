// `ftune doctor`'s report as text lines: what the CLI prints and what "Finetune Studio: Check GPU" writes
// to the output channel.
import type { DoctorReport } from './protocol';

const GIB = 2 ** 30;

export function doctorReportLines(report: DoctorReport): string[] {
  const lines = report.backends.map((e) => `${e.ok ? '✓' : '✗'} ${e.backend.padEnd(10)} ${e.gpu ? '[GPU] ' : ''}${e.device ?? ''}  ${e.detail}`);
  const m = report.memory;
  lines.push(`memory: ${(m.free_bytes / GIB).toFixed(1)} GiB free of ${(m.total_bytes / GIB).toFixed(1)} GiB, ${m.cpus} CPU cores`);
  lines.push(report.auto ? `auto (the default) uses: ${report.auto}` : 'no backend works');
  if (report.advice) lines.push(report.advice);
  return lines;
}
