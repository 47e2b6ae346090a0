// The HTML shell of both webviews. Strict CSP: nothing is allowed by default; scripts only with this
// page's nonce, styles and images only from the webview's own resource origin (media/build) or with the
// nonce (never 'unsafe-inline'). Nothing remote. No vscode import: unit tested.

import { randomBytes } from 'crypto';

export interface WebviewHtmlOptions {
  title: string;
  /** webview.cspSource */
  cspSource: string;
  /** asWebviewUri of media/build/<panel>.js and media/build/webview.css */
  scriptUri: string;
  styleUri: string;
  /** the panel's own stylesheets, after the shared one */
  extraStyleUris?: string[];
  nonce?: string;
}

export function makeNonce(): string {
  return randomBytes(18).toString('base64');
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    // the nonce lets the webview toolkit (FAST) run its one feature-detection <style> (see csp-nonce below)
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
  ].join('; ');
}

const escapeAttribute = (s: string): string => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function webviewHtml(options: WebviewHtmlOptions): string {
  const nonce = options.nonce ?? makeNonce();
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttribute(contentSecurityPolicy(options.cspSource, nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<meta property="csp-nonce" content="${escapeAttribute(nonce)}">
<link rel="stylesheet" href="${escapeAttribute(options.styleUri)}">
${(options.extraStyleUris ?? []).map((u) => `<link rel="stylesheet" href="${escapeAttribute(u)}">\n`).join('')}<title>${escapeAttribute(options.title)}</title>
</head>
<body>
<div id="root"></div>
<script nonce="${escapeAttribute(nonce)}" src="${escapeAttribute(options.scriptUri)}"></script>
</body>
</html>
`;
}
