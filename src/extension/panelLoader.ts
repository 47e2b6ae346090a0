// Loads the webview panels (src/extension/panels/*, built by another part of the project) lazily.
// `require` inside try/catch: when a panel module is absent the bundler leaves it out instead of
// failing, and the command explains that the panel is not available in this build.

import type { PanelHost } from './panelHost';

export interface LossPanelModule {
  openLossPanel(host: PanelHost, runDirs: string[]): void;
  /** restores loss panels after a window reload (optional). */
  registerLossPanelSerializer?(host: PanelHost): Disposable;
}

export interface PlaygroundModule {
  openPlayground(host: PanelHost, preselect?: { model: string; adapter?: string }): void;
  registerPlaygroundSerializer?(host: PanelHost): Disposable;
}

interface Disposable {
  dispose(): unknown;
}

/** Registers the panels' webview serializers, where the panels provide them. */
export function registerPanelSerializers(host: PanelHost): Disposable[] {
  const loss = loadLossPanel();
  const playground = loadPlayground();
  return [loss?.registerLossPanelSerializer?.(host), playground?.registerPlaygroundSerializer?.(host)].filter((d): d is Disposable => d !== undefined);
}

export function loadLossPanel(): LossPanelModule | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('./panels/lossPanel') as Partial<LossPanelModule>;
    return typeof mod.openLossPanel === 'function' ? (mod as LossPanelModule) : undefined;
  } catch {
    return undefined;
  }
}

export function loadPlayground(): PlaygroundModule | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('./panels/playgroundPanel') as Partial<PlaygroundModule>;
    return typeof mod.openPlayground === 'function' ? (mod as PlaygroundModule) : undefined;
  } catch {
    return undefined;
  }
}
