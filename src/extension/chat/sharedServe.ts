// The `ftune serve` processes shared by the editor features outside the playground (chat models, Run
// Selection, golden-set tests, LM tools): one per base model, started on first use, each request with
// the same chat template training used. The playground keeps its own pool (its Stop cancels only its work).

import type * as vscode from 'vscode';
import type { PanelHost } from '../panelHost';
import { serveArgs, ServePool } from '../panels/serveClient';

let pool: ServePool | undefined;

export function sharedServePool(host: PanelHost): ServePool {
  pool ??= new ServePool(
    (model) => host.spawnCli(serveArgs(model, host.backend())),
    (line) => host.output.appendLine(line),
  );
  return pool;
}

/** Ends the shared servers (extension deactivation). */
export function disposeSharedServePool(): vscode.Disposable {
  return {
    dispose: () => {
      pool?.dispose();
      pool = undefined;
    },
  };
}
