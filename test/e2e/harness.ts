// End-to-end harness: a real VS Code (code-server 4.133.0 = VS Code 1.133, installed by scripts/setup-code-server.sh)
// with the packaged VSIX, driven through Debian's Chromium by playwright-core. Each session gets a
// free loopback port, a fresh user-data dir and a temporary workspace; screenshots go to
// test-output/e2e/.

import { execFileSync, spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
export const SHOTS_DIR = path.join(REPO_ROOT, 'test-output', 'e2e');
const CHROMIUM = '/usr/bin/chromium';

/**
 * The code-server the e2e files run on: 4.104.0 = VS Code 1.104, the first with the finalized
 * language-model chat provider API (engines.vscode ^1.104.0), on its own Node 22 (see codeServerNode).
 * FTUNE_E2E_CODE_SERVER picks another release.
 */
export const CODE_SERVER_VERSION = '4.104.0';

/**
 * The chat e2e needs a newer one: only VS Code 1.127 and later forward a `sendRequest` cancellation to
 * the provider (microsoft/vscode#277872, fixed by #319098), which it checks. 4.133.0 = VS Code 1.133 on
 * Node 24. The other files stay on 4.104.0: their quick-input steps were written against that UI.
 */
export const CHAT_CODE_SERVER_VERSION = '4.133.0';

/** Installs (or finds the cached) code-server; returns its tools folder. */
export function setupCodeServer(version = process.env.FTUNE_E2E_CODE_SERVER ?? CODE_SERVER_VERSION): string {
  const out = execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'setup-code-server.sh'), version], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 20 * 60_000 });
  const lines = out.trim().split('\n');
  return lines[lines.length - 1];
}

/** Packages the extension (dist/ must be built) into a temp VSIX. */
export function packageVsix(): string {
  for (const file of ['dist/extension.js', 'dist/ftune.js']) {
    if (!fs.existsSync(path.join(REPO_ROOT, file))) throw new Error(`${file} is missing: run npm run build first`);
  }
  const vsix = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-vsix-')), 'finetune-studio.vsix');
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies', '--skip-license', '--allow-missing-repository', '--no-rewrite-relative-links', '-o', vsix], { cwd: REPO_ROOT, stdio: 'pipe' });
  return vsix;
}

/** The Node a code-server install runs on: its own (tools/node, for releases needing Node 22) or this one. */
export function codeServerNode(tools: string): string {
  const own = path.join(tools, 'node', 'bin', 'node');
  return fs.existsSync(own) ? own : process.execPath;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export interface Session {
  page: Page;
  workspace: string;
  extensionsDir: string;
  userDataDir: string;
  close(): Promise<void>;
}

export interface LaunchOptions {
  tools: string;
  vsix: string;
  /** more VSIX files installed beside ours (a test-only extension that calls our API). */
  extraVsix?: string[];
  workspace: string;
  settings?: Record<string, unknown>;
  /** false: workspace trust stays on, so the folder opens in Restricted Mode once declined. */
  trusted?: boolean;
}

export function installExtension(tools: string, vsix: string, extensionsDir: string, userDataDir: string): string {
  const entry = path.join(tools, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  execFileSync(codeServerNode(tools), [entry, '--extensions-dir', extensionsDir, '--user-data-dir', userDataDir, '--install-extension', vsix], { stdio: 'pipe', timeout: 120_000 });
  return execFileSync(codeServerNode(tools), [entry, '--extensions-dir', extensionsDir, '--user-data-dir', userDataDir, '--list-extensions', '--show-versions'], { encoding: 'utf8', timeout: 120_000 });
}

/** Starts code-server with the VSIX installed and opens the workspace in Chromium. */
/** Sessions launched and not closed yet. */
const live = new Set<Session>();

/**
 * Closes every session still open. Each e2e file calls it in after(): a test that fails before its own
 * close() must not leave code-server and Chromium running, which would keep the test process alive.
 */
export async function closeAllSessions(): Promise<void> {
  for (const session of [...live]) await session.close();
}

export async function launch(options: LaunchOptions): Promise<Session> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-e2e-'));
  const userDataDir = path.join(base, 'data');
  const extensionsDir = path.join(base, 'extensions');
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify({
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'telemetry.telemetryLevel': 'off',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'update.mode': 'none',
    'chat.disableAIFeatures': true,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'window.zoomLevel': 0,
    ...options.settings,
  }, null, 2));
  installExtension(options.tools, options.vsix, extensionsDir, userDataDir);
  for (const extra of options.extraVsix ?? []) installExtension(options.tools, extra, extensionsDir, userDataDir);

  const port = await freePort();
  const entry = path.join(options.tools, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  const server: ChildProcess = spawn(codeServerNode(options.tools), [
    entry, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir,
    '--disable-telemetry', '--disable-update-check', ...(options.trusted === false ? [] : ['--disable-workspace-trust']), '--disable-getting-started-override', options.workspace,
  ], { stdio: ['ignore', 'pipe', 'pipe'], detached: true }); // its own process group: close() ends all of it
  const log = fs.createWriteStream(path.join(base, 'code-server.log'));
  server.stdout!.pipe(log);
  server.stderr!.pipe(log);
  await waitForHttp(`http://127.0.0.1:${port}/healthz`, 60_000);

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(options.workspace)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  const session: Session = {
    page, workspace: options.workspace, extensionsDir, userDataDir,
    close: async () => {
      live.delete(session);
      // Neither a browser that does not answer nor a code-server child (extension host, file watcher,
      // trainer) that outlives its parent may keep the test process alive.
      await Promise.race([browser.close().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 15_000))]);
      const group = (signal: NodeJS.Signals) => {
        try {
          process.kill(-server.pid!, signal);
        } catch {
          // already gone
        }
      };
      group('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 500));
      group('SIGKILL');
      server.stdout?.destroy();
      server.stderr?.destroy();
      log.end();
      // the user-data and extension folders are throwaway (the workspace stays for inspection)
      fs.rmSync(base, { recursive: true, force: true, maxRetries: 3 });
    },
  };
  live.add(session);
  return session;
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`code-server did not answer at ${url}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Saves a screenshot as test-output/e2e/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SHOTS_DIR, { recursive: true });
  const file = path.join(SHOTS_DIR, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/** Opens the command palette (F1) and returns its input. */
async function openCommandPalette(page: Page): Promise<Locator> {
  const input = page.locator('.quick-input-widget input');
  for (let attempt = 0; ; attempt++) {
    await page.keyboard.press('F1');
    try {
      await input.waitFor({ timeout: 3000 });
      break;
    } catch (error) {
      // focus may sit in a webview iframe, which keeps F1 to itself: focus the workbench and retry
      if (attempt >= 2) throw error;
      await page.locator('.part.statusbar').click({ position: { x: 5, y: 5 } }).catch(() => undefined);
    }
  }
  return input;
}

/** Runs a command from the palette by its full title ("Finetune Studio: Fine-tune…"). */
export async function runCommand(page: Page, title: string): Promise<void> {
  const input = await openCommandPalette(page);
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
  await page.keyboard.press('Enter');
}

/** The quick input (QuickPick / InputBox) currently shown. */
export function quickInput(page: Page): Locator {
  return page.locator('.quick-input-widget');
}

/**
 * Picks the QuickPick row containing `text` with the keyboard (arrow down to it, Enter): a mouse click
 * can land on a hover tooltip that happens to cover the row.
 */
export async function pickQuickItem(page: Page, text: string): Promise<void> {
  const rows = page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
  await rows.filter({ hasText: text }).first().waitFor({ timeout: 30_000 });
  const count = await rows.count();
  for (let i = 0; i <= count + 1; i++) {
    const focused = await rows.and(page.locator('.focused')).first().innerText().catch(() => '');
    if (focused.includes(text)) {
      await page.keyboard.press('Enter');
      return;
    }
    await page.keyboard.press('ArrowDown');
  }
  throw new Error(`no quick pick row "${text}" could be focused`);
}

/** Types into the visible InputBox and accepts. */
export async function typeQuickInput(page: Page, value: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(value);
  await page.keyboard.press('Enter');
}

/** Opens the activity-bar container by its title. */
export async function openContainer(page: Page, title: string): Promise<void> {
  const item = page.locator(`.activitybar .action-item a[aria-label^="${title}"], .activitybar .action-item [aria-label^="${title}"]`).first();
  await item.waitFor({ timeout: 60_000 });
  const expanded = await item.getAttribute('aria-expanded');
  if (expanded !== 'true') await item.click();
}

/** A view pane of the sidebar by its name (e.g. "Runs"). */
export function viewPane(page: Page, name: string): Locator {
  return page.locator('.sidebar .pane', { has: page.locator('.pane-header h3.title', { hasText: new RegExp(`^${name}$`, 'i') }) });
}

/** A row of a tree view whose text contains `text`. */
export function treeItem(page: Page, view: string, text: string | RegExp): Locator {
  return viewPane(page, view).locator('.monaco-list-row', { hasText: text }).first();
}

/** Explorer rows are `.explorer-item`. */
export function explorerItem(page: Page, name: string): Locator {
  return page.locator('.explorer-folders-view .monaco-list-row', { has: page.locator('.explorer-item', { hasText: name }) }).first();
}

/** Opens the context menu of `target` and clicks the entry `label`. */
/**
 * Picks a context-menu entry until `result` shows (at most 3 tries). WHY: a tree item whose label
 * changes every second (a training run) is re-rendered under an open menu, which then loses the
 * keystroke; the user would simply try again.
 */
export async function contextMenuUntil(page: Page, target: Locator, label: string, result: Locator): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await contextMenu(page, target, label);
    try {
      await result.waitFor({ timeout: 5_000 });
      return;
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

export async function contextMenu(page: Page, target: Locator, label: string): Promise<void> {
  await target.click({ button: 'right' });
  const entry = page.locator('.monaco-menu .action-item .action-label', { hasText: label }).first();
  await entry.waitFor({ timeout: 15_000 });
  // VS Code's web menus ignore a click that arrives right after they open: hover, then accept with Enter.
  await entry.hover();
  await page.waitForTimeout(150);
  await page.keyboard.press('Enter');
  await page.locator('.monaco-menu').first().waitFor({ state: 'hidden', timeout: 15_000 });
}

/** The labels of the context menu of `target` (the menu is closed again with Escape). */
export async function contextMenuLabels(page: Page, target: Locator): Promise<string[]> {
  await target.click({ button: 'right' });
  const menu = page.locator('.monaco-menu');
  await menu.first().waitFor({ timeout: 15_000 });
  const labels = await page.locator('.monaco-menu .action-item .action-label').allInnerTexts();
  await page.keyboard.press('Escape');
  return labels.map((l) => l.trim()).filter(Boolean);
}

/** A notification toast containing `text`. */
export function notification(page: Page, text: string | RegExp): Locator {
  return page.locator('.notification-toast', { hasText: text }).first();
}

/** Relative luminance (0 black … 1 white) of the workbench background, as the browser paints it. */
export async function workbenchLuminance(page: Page): Promise<number> {
  return page.locator('.monaco-workbench').evaluate((el) => {
    const [r, g, b, alpha = 1] = (getComputedStyle(el).backgroundColor.match(/\d+(\.\d+)?/g) ?? []).map(Number);
    // a transparent (unpainted) background is neither dark nor light
    if (r === undefined || alpha === 0) return Number.NaN;
    const linear = (c: number) => (c / 255 <= 0.03928 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  });
}

/**
 * Picks a colour theme ("Dark Modern", "Light Modern") through Preferences: Color Theme, the way a
 * user does: writing settings.json behind code-server's back is not picked up reliably. Returns once
 * the workbench background is actually dark (or light), so screenshots taken next show that theme.
 */
export async function pickColorTheme(page: Page, theme: string, dark: boolean): Promise<void> {
  const input = await openCommandPalette(page);
  await input.fill('>Preferences: Color Theme');
  // not the top row: "Browse Color Themes in Marketplace" may come first
  await pickQuickItem(page, 'Preferences: Color Theme');
  await pickQuickItem(page, theme);
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 15_000 });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const luminance = await workbenchLuminance(page);
    if (dark ? luminance < 0.1 : luminance > 0.6) return;
    if (Date.now() > deadline) throw new Error(`the workbench did not turn ${dark ? 'dark' : 'light'} with ${theme} (luminance ${luminance.toFixed(3)})`);
    await page.waitForTimeout(250);
  }
}
