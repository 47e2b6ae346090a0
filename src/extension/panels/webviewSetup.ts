// Options and HTML shared by both panels: scripts on, resources only from media/build (the bundles and
// the stylesheet built there), state kept by setState + serializer rather than by keeping hidden
// webviews alive.

import * as vscode from 'vscode';
import { restrictedPanelHtml } from '../trust';
import { webviewHtml } from './webviewHtml';

export function buildDir(extensionUri: vscode.Uri): vscode.Uri {
  return vscode.Uri.joinPath(extensionUri, 'media', 'build');
}

export function panelOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [buildDir(extensionUri)],
    retainContextWhenHidden: false,
    enableFindWidget: true,
  };
}

export function panelHtml(webview: vscode.Webview, extensionUri: vscode.Uri, bundle: 'lossPanel' | 'playground', title: string): string {
  const dir = buildDir(extensionUri);
  return webviewHtml({
    title,
    cspSource: webview.cspSource,
    scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(dir, `${bundle}.js`)).toString(),
    styleUri: webview.asWebviewUri(vscode.Uri.joinPath(dir, 'webview.css')).toString(),
  });
}

/**
 * For a panel VS Code restores after a reload: build it now in a trusted workspace; in Restricted Mode
 * show a paused page (no scripts, nothing spawned) and build it only once the workspace is trusted.
 */
export function whenTrusted(panel: vscode.WebviewPanel, title: string, build: () => void): void {
  if (vscode.workspace.isTrusted) {
    build();
    return;
  }
  panel.webview.options = { enableScripts: false, localResourceRoots: [] };
  panel.webview.html = restrictedPanelHtml(title);
  const granted = vscode.workspace.onDidGrantWorkspaceTrust(() => {
    granted.dispose();
    closed.dispose();
    build();
  });
  const closed = panel.onDidDispose(() => {
    granted.dispose();
    closed.dispose();
  });
}
