// The `ftune train` command line of a run. The run folder's run_config.json is the contract (the
// schema `ftune train` writes and reads with --config), so a run and its Resume train with exactly the
// same configuration. --out names the folder the run is in now, in case it was moved.

import * as path from 'path';
import { CONFIG_FILE } from '../core/runStore';

export function trainArgs(runDir: string, options: { resume?: boolean } = {}): string[] {
  const args = ['train', '--config', path.join(runDir, CONFIG_FILE), '--out', runDir];
  if (options.resume) args.push('--resume');
  return args;
}
