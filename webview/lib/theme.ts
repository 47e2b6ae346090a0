// Colours for canvas drawing, read from VS Code's theme CSS variables (canvas cannot use var(--...)),
// re-read whenever VS Code switches theme (it changes the body's class: vscode-light / vscode-dark /
// vscode-high-contrast / vscode-high-contrast-light).

export interface ThemeColors {
  foreground: string;
  muted: string;
  grid: string;
  background: string;
  warning: string;
  highContrast: boolean;
  /** one colour per run / series. */
  palette: string[];
}

function cssVar(name: string, fallback: string): string {
  const value = getComputedStyle(document.body).getPropertyValue(name).trim();
  return value === '' ? fallback : value;
}

export function themeColors(): ThemeColors {
  const dark = document.body.classList.contains('vscode-dark') || document.body.classList.contains('vscode-high-contrast');
  return {
    foreground: cssVar('--vscode-charts-foreground', cssVar('--vscode-foreground', dark ? '#cccccc' : '#333333')),
    muted: cssVar('--vscode-descriptionForeground', dark ? '#9d9d9d' : '#717171'),
    // charts.lines is meant for axis lines; at full strength a grid of it drowns the curves
    grid: withAlpha(cssVar('--vscode-charts-lines', dark ? '#cccccc80' : '#61616180'), 0.4),
    background: cssVar('--vscode-editor-background', dark ? '#1e1e1e' : '#ffffff'),
    warning: cssVar('--vscode-editorWarning-foreground', '#cca700'),
    highContrast: document.body.classList.contains('vscode-high-contrast') || document.body.classList.contains('vscode-high-contrast-light'),
    palette: [
      cssVar('--vscode-charts-blue', '#3794ff'),
      cssVar('--vscode-charts-orange', '#d18616'),
      cssVar('--vscode-charts-green', '#89d185'),
      cssVar('--vscode-charts-purple', '#b180d7'),
      cssVar('--vscode-charts-red', '#f14c4c'),
      cssVar('--vscode-charts-yellow', '#cca700'),
    ],
  };
}

/** Calls `onChange` when VS Code switches theme. */
export function onThemeChange(onChange: () => void): void {
  new MutationObserver(onChange).observe(document.body, { attributes: true, attributeFilter: ['class'] });
}

/** `color` at the given opacity, for any CSS colour the canvas understands. */
export function withAlpha(color: string, alpha: number): string {
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6}|[0-9a-f]{8})$/i.exec(color);
  if (hex) {
    const h = hex[1].length === 3 ? [...hex[1]].map((c) => c + c).join('') : hex[1];
    const [r, g, b] = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
    const own = h.length === 8 ? parseInt(h.slice(6, 8), 16) / 255 : 1;
    return `rgba(${r}, ${g}, ${b}, ${+(alpha * own).toFixed(3)})`;
  }
  return `color-mix(in srgb, ${color} ${Math.round(alpha * 100)}%, transparent)`;
}
