// Reading a run_config.json from disk (Node only; runConfig.ts itself stays browser-safe).
import * as fs from 'fs';
import * as path from 'path';
import { parseRunConfig, type RunConfig } from './runConfig';

/** The checked run configuration in `file`; errors name the file (`FILE: key: reason`). */
export function readRunConfigFile(file: string): RunConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: invalid JSON: ${(err as Error).message}`);
  }
  return parseRunConfig(value, file);
}

/**
 * The configuration of the run an adapter folder belongs to — `<run>/adapter`, `<run>/best`,
 * `<run>/checkpoints/step-N` — so that evaluating, chatting with or exporting it uses the run's settings
 * (its base precision). Undefined for an adapter outside a run folder (a PEFT download).
 */
export function runConfigOfAdapter(adapterDir: string): RunConfig | undefined {
  const parent = path.dirname(path.resolve(adapterDir));
  for (const runDir of [parent, path.dirname(parent)]) {
    const file = path.join(runDir, 'run_config.json');
    if (fs.existsSync(file)) return readRunConfigFile(file);
  }
  return undefined;
}
