// Every `--json` output of the CLI goes through here: one JSON line, of the type core/protocol.ts
// CliJsonOutputs gives that command — the same type the extension reads (extension/cliClient.ts).

import type { CliJsonOutputs } from '../core/protocol';

export function jsonLine<C extends keyof CliJsonOutputs>(_command: C, value: CliJsonOutputs[C]): string {
  return JSON.stringify(value) + '\n';
}

/** Writes `value` as the command's `--json` line on stdout. */
export function printJson<C extends keyof CliJsonOutputs>(command: C, value: CliJsonOutputs[C]): void {
  process.stdout.write(jsonLine(command, value));
}
