// Options and HTML shared by both panels: scripts on, resources only from media/build (the bundles and
// the stylesheet built there), state kept by setState + serializer rather than by keeping hidden
// webviews alive.

import * as vscode from 'vscode';
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
