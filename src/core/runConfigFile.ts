// Reading a run_config.json from disk (Node only; runConfig.ts itself stays browser-safe).
import * as fs from 'fs';
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
