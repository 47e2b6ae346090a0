// Workspace trust for everything that runs the ftune CLI. The CLI reads workspace files that can make
// code run or hang (a model folder's chat template and tokenizer, a dataset, settings), so in Restricted
// Mode nothing may start it — not a command, not a webview message, not a panel that VS Code restores
// after a reload. This is the one gate every spawn goes through (Ctx.spawnCli). No VS Code imports.

export const RESTRICTED_MODE_CLI =
  'this runs the ftune CLI on files of this workspace (model folders, chat templates, datasets), so the workspace must be trusted first';

export class RestrictedModeError extends Error {
  constructor(what: string) {
    super(`${what}: ${RESTRICTED_MODE_CLI}`);
    this.name = 'RestrictedModeError';
  }
}

export interface GatedSpawnOptions {
  cwd?: string;
  /** added to the child's environment (a token that must not appear on the command line). */
  env?: Record<string, string>;
  /**
   * For the few CLI commands that only read plain text and write a JSONL file (`ftune data from-files`),
   * which Restricted Mode allows: they load no model, template or tokenizer from the workspace.
   */
  restrictedModeSafe?: boolean;
}

/**
 * Wraps `spawn` so that it refuses (throws RestrictedModeError, never starts a process) while the
 * workspace is not trusted. Trust is asked at every call: a workspace can become trusted later.
 */
export function trustGatedSpawner<T>(
  isTrusted: () => boolean,
  spawn: (args: readonly string[], options: { cwd?: string; env?: Record<string, string> }) => T,
): (args: readonly string[], options?: GatedSpawnOptions) => T {
  return (args, options = {}) => {
    if (!isTrusted() && !options.restrictedModeSafe) throw new RestrictedModeError(`ftune ${args[0] ?? ''}`.trim());
    return spawn(args, { cwd: options.cwd, env: options.env });
  };
}

/** The page a restored panel shows in Restricted Mode instead of running anything (no scripts). */
export function restrictedPanelHtml(title: string): string {
  const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"><title>${escape(title)}</title></head>`
    + `<body style="font-family: var(--vscode-font-family); padding: 1em"><h3>${escape(title)}</h3>`
    + `<p>This panel is paused: ${escape(RESTRICTED_MODE_CLI)}. It resumes once you trust the workspace.</p></body></html>`;
}
