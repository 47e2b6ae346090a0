// How the extension runs its own CLI. VS Code's extension host runs inside Electron, so
// `process.execPath` is the Electron binary: ELECTRON_RUN_AS_NODE=1 turns it into plain Node (in
// code-server it already is Node and the variable is ignored). A configured node path wins.

import * as fs from 'fs';
import * as path from 'path';

export interface CliInvocation {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/** The packaged bundle (dist/ftune.js) or, in a development checkout, bin/ftune.js. */
export function locateCli(extensionPath: string): string {
  const candidates = [path.join(extensionPath, 'dist', 'ftune.js'), path.join(extensionPath, 'bin', 'ftune.js')];
  const found = candidates.find((file) => fs.existsSync(file));
  if (!found) throw new Error(`the ftune CLI is missing: looked for ${candidates.join(' and ')}`);
  return found;
}

/**
 * The CLI module exports main(argv); a one-line loader calls it. This works whether or not the bundle
 * also starts itself when run directly, and keeps the CLI path out of Node's own option parsing.
 */
const LOADER = 'require(process.argv[1]).main(process.argv.slice(2))';

export function cliInvocation(
  cliPath: string,
  args: readonly string[],
  options: { nodePath?: string; execPath?: string; env?: NodeJS.ProcessEnv } = {},
): CliInvocation {
  const nodePath = options.nodePath?.trim();
  const command = nodePath ? nodePath : options.execPath ?? process.execPath;
  const env: NodeJS.ProcessEnv = { ...(options.env ?? process.env) };
  if (!nodePath) env.ELECTRON_RUN_AS_NODE = '1';
  return { command, args: ['-e', LOADER, cliPath, ...args], env };
}
