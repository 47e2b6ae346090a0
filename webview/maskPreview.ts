// Mask preview (browser side): the first examples of a dataset as the trainer sees them, token by
// token. Trained tokens (the ones the loss uses) are highlighted, masked ones dimmed, neighbours
// alternate shades so every boundary shows. Data is ONLY ever written with textContent / attributes
// set through the DOM — a dataset is untrusted text, never HTML.

import {
  DEFAULT_PREVIEW_COUNT,
  isHostToMaskPreview,
  PREVIEW_COUNTS,
  restoreMaskPreviewState,
  type HostToMaskPreview,
  type MaskPreviewState,
  type MaskPreviewToHost,
  type PreviewExample,
} from '../src/extension/panels/maskPreviewMessages.js';
import { exampleSummary, exampleTitle, shadeIndex, tokenDisplay } from './lib/maskPreviewView.js';
import { el } from './lib/dom.js';
import { vscodeApi } from './lib/vscodeApi.js';
import { badge, button, dropdown, initUi, progressRing } from './ui.js';

const vscode = vscodeApi<MaskPreviewState>();
const post = (message: MaskPreviewToHost): void => vscode.postMessage(message);

let state = restoreMaskPreviewState(vscode.getState());

const baseName = (file: string): string => file.split(/[\\/]/).pop() ?? file;

// ------------------------------------------------------------------ layout

initUi();
const root = document.getElementById('root') as HTMLElement;
const toolbar = el('header', { class: 'toolbar mp-toolbar' });
const fileLabel = el('strong', { id: 'file', class: 'mp-file' });
const modelLabel = el('span', { id: 'model', class: 'hint' });
const formatLabel = el('span', { id: 'format', class: 'hint' });
const legend = el('span', { class: 'mp-legend', 'aria-label': 'legend' });
legend.append(el('span', { class: 'tok trained' }, 'trained'), el('span', { class: 'tok masked' }, 'masked (not trained)'));
const count = dropdown(
  PREVIEW_COUNTS.map((n) => ({ value: String(n), label: `${n} examples` })),
  String(state?.n ?? DEFAULT_PREVIEW_COUNT),
  // the toolkit may report its initial value as a change: only a different count reloads
  (value) => { if (Number(value) !== state?.n) post({ type: 'reload', n: Number(value) }); },
  'count',
);
const changeModel = button('Change Model…', () => post({ type: 'changeModel' }), { appearance: 'secondary', id: 'change-model' });
const reload = button('Reload', () => post({ type: 'reload', n: Number(count.value) }), { appearance: 'secondary', id: 'reload', title: 'Read the file again' });
const spacer = el('span', { class: 'mp-spacer' });
toolbar.append(fileLabel, modelLabel, formatLabel, spacer, legend, count.element, changeModel, reload);
const status = el('div', { id: 'status', class: 'status mp-status', role: 'status' });
const examplesBox = el('main', { id: 'examples', class: 'mp-examples', 'data-state': 'loading' });
root.append(toolbar, status, examplesBox);

function showTarget(target: MaskPreviewState): void {
  if (count.value !== String(target.n)) count.setChoices(PREVIEW_COUNTS.map((n) => ({ value: String(n), label: `${n} examples` })), String(target.n));
  state = target;
  vscode.setState(target);
  fileLabel.textContent = baseName(target.file);
  fileLabel.title = target.file;
  modelLabel.textContent = `tokenizer of ${baseName(target.model)}`;
  modelLabel.title = target.model;
}

// ------------------------------------------------------------------ rendering

function renderTokens(example: PreviewExample): HTMLElement {
  const box = el('div', { class: 'mp-tokens' });
  const shades = shadeIndex(example.tokens);
  example.tokens.forEach((token, i) => {
    const display = tokenDisplay(token.text);
    const classes = ['tok', token.trained ? 'trained' : 'masked', `shade-${shades[i]}`];
    if (display.special) classes.push('special');
    if (display.partial) classes.push('partial');
    const note = display.partial ? ' · part of a multi-byte character' : '';
    const span = el('span', { class: classes.join(' '), title: `#${i} · id ${token.id} · ${token.trained ? 'trained' : 'masked'}${note}` }, display.shown);
    box.append(span);
    if (display.breaksLine) box.append(el('br'));
  });
  return box;
}

function renderExample(example: PreviewExample): HTMLElement {
  const summary = exampleSummary(example.tokens);
  const section = el('section', {
    class: 'mp-example',
    'data-line': String(example.line),
    'data-tokens': String(summary.tokens),
    'data-trained': String(summary.trained),
  });
  if (example.side) section.dataset.side = example.side;
  const heading = el('h2', { class: 'mp-title' });
  const open = el('a', { class: 'mp-open', href: '#', title: 'Open the file at this line' }, exampleTitle(example.line, summary, example.side));
  open.addEventListener('click', (event) => {
    event.preventDefault();
    post({ type: 'openLine', line: example.line });
  });
  heading.append(open);
  if (example.too_long) heading.append(badge('longer than max length: skipped in training'));
  if (summary.trained === 0) heading.append(badge('no trained tokens'));
  section.append(heading, renderTokens(example));
  return section;
}

function render(message: HostToMaskPreview): void {
  showTarget(message.target);
  switch (message.type) {
    case 'loading':
      examplesBox.dataset.state = 'loading';
      status.replaceChildren(progressRing(), el('span', {}, `Tokenizing the first ${message.target.n} examples…`));
      return;
    case 'error':
      examplesBox.dataset.state = 'error';
      status.replaceChildren();
      examplesBox.replaceChildren(el('pre', { class: 'mp-error', id: 'error' }, message.message));
      return;
    case 'examples': {
      examplesBox.dataset.state = 'done';
      formatLabel.textContent = message.format ? `${message.format}${message.mapping ? ` (${message.mapping})` : ''}` : '';
      const total = message.examples.reduce((n, e) => n + e.tokens.length, 0);
      const trained = message.examples.reduce((n, e) => n + exampleSummary(e.tokens).trained, 0);
      status.replaceChildren(el('span', {}, message.examples.length
        ? `${message.examples.length} example${message.examples.length === 1 ? '' : 's'} · ${total} tokens · ${trained} trained`
        : 'The file has no examples.'));
      examplesBox.replaceChildren(...message.examples.map(renderExample));
      return;
    }
  }
}

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  if (isHostToMaskPreview(event.data)) render(event.data);
});

if (state) showTarget(state);
post({ type: 'ready' });
