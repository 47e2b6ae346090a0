// Playground (browser side): columns = a base model and checkpoints answering the same prompt side by
// side, streaming. Chat mode (system prompt + turns, the model's chat template applied by the server)
// or raw completion. Golden set: exact-match accuracy per column. Model output is ONLY ever written
// with textContent — it is untrusted text, never HTML.

import {
  isHostToPlayground,
  type GenerationJob,
  type HostToPlayground,
  type ModelChoice,
  type ModelRef,
  type PlaygroundToHost,
} from '../src/core/protocol.js';
import {
  chatMessages,
  columnChoices,
  decodingOptions,
  refFromKey,
  refKey,
  restorePlaygroundState,
  type ColumnState,
  type GoldenColumnResult,
  type PlaygroundState,
} from './lib/playgroundState.js';
import { el } from './lib/dom.js';
import { createArena } from './arena.js';
import { isHostToArena } from '../src/core/arenaProtocol.js';
import { vscodeApi } from './lib/vscodeApi.js';
import { button, checkbox, dropdown, initUi, textArea, textField, type ButtonElement, type Dropdown, type ValueElement } from './ui.js';

type ColumnStatus = 'idle' | 'queued' | 'loading' | 'generating' | 'done' | 'stopped' | 'error';

interface ColumnView {
  root: HTMLElement;
  select: Dropdown;
  transcript: HTMLElement;
  stats: HTMLElement;
  golden: HTMLElement;
  /** the <pre> receiving streamed tokens of the running request. */
  streaming?: HTMLElement;
  status: ColumnStatus;
  tokens: number;
  startedAt: number;
}

const vscode = vscodeApi<PlaygroundState>();
const post = (message: PlaygroundToHost): void => vscode.postMessage(message);

const state = restorePlaygroundState(vscode.getState());
let choices: ModelChoice[] = [];
const views = new Map<string, ColumnView>();
/** the request whose tokens are being shown; messages of older requests are ignored. */
let activeRequest: string | undefined;
let requestCounter = 0;
/** golden example opened for detail, per column. */
const openExample = new Map<string, number>();

function saveState(): void {
  vscode.setState(state);
}

function newId(prefix: string): string {
  requestCounter += 1;
  return `${prefix}${Date.now().toString(36)}${requestCounter}`;
}

// ------------------------------------------------------------------ layout

const root = document.getElementById('root') as HTMLElement;
const controls = el('header', { class: 'toolbar controls' });
const columnsBox = el('div', { id: 'columns', class: 'columns' });
const composer = el('section', { class: 'composer' });
const goldenBox = el('section', { class: 'golden', id: 'golden' });
let sendButton: ButtonElement;
let stopButton: ButtonElement;
let goldenButton: ButtonElement;
/** controls that change the set of columns or the mode: disabled while a request streams into them. */
const structuralControls: (ButtonElement | ValueElement)[] = [];
/** a structural change (preselect, new column) that arrived while busy, applied once idle. */
let renderWhenIdle = false;

function buildControls(): void {
  const mode = dropdown(
    [
      { value: 'chat', label: 'Chat (chat template)' },
      { value: 'raw', label: 'Raw completion' },
    ],
    state.mode,
    (value) => {
      state.mode = value === 'raw' ? 'raw' : 'chat';
      saveState();
      renderAll();
    },
    'mode',
  );
  const numberField = (label: string, key: 'temperature' | 'top_p' | 'top_k' | 'seed' | 'max_new_tokens', sampling: boolean): ValueElement => {
    const field = textField(String(state.decoding[key]), (value) => {
      const n = Number(value);
      if (value.trim() !== '' && Number.isFinite(n)) state.decoding[key] = n;
      saveState();
    }, { label, id: key.replace(/_/g, '-'), size: 6 });
    if (sampling) field.classList.add('sampling');
    return field;
  };
  const sampling = [
    numberField('Temperature', 'temperature', true),
    numberField('Top-p', 'top_p', true),
    numberField('Top-k', 'top_k', true),
    numberField('Seed', 'seed', true),
  ];
  const syncSampling = (): void => sampling.forEach((f) => (f.disabled = state.decoding.greedy));
  const greedy = checkbox('Greedy', state.decoding.greedy, (checked) => {
    state.decoding.greedy = checked;
    saveState();
    syncSampling();
  }, 'greedy');
  syncSampling();
  const addColumn = button('Add column', () => {
    const last = state.columns[state.columns.length - 1];
    state.columns.push({ id: newId('c'), model: last?.model ?? choices[0]?.model ?? '' });
    saveState();
    renderAll();
  }, { appearance: 'secondary', id: 'add-column' });
  const pickModel = button('Add model folder…', () => post({ type: 'pick', purpose: 'model' }), { appearance: 'secondary', id: 'pick-model' });
  structuralControls.push(mode.element, addColumn, pickModel);
  controls.replaceChildren(mode.element, greedy, ...sampling, numberField('Max new tokens', 'max_new_tokens', false), addColumn, pickModel);
}

function buildComposer(): void {
  const system = textArea(state.system, (value) => {
    state.system = value;
    saveState();
  }, { label: 'System prompt', rows: 2, id: 'system', placeholder: 'Optional system message' });
  system.hidden = state.mode !== 'chat';
  const input = textArea(state.draft, (value) => {
    state.draft = value;
    saveState();
  }, { label: state.mode === 'chat' ? 'Message' : 'Prompt', rows: 4, id: 'prompt', placeholder: 'Ctrl+Enter to send' });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      send();
    }
  });
  sendButton = button('Send', send, { id: 'send' });
  stopButton = button('Stop', () => post({ type: 'stop' }), { appearance: 'secondary', id: 'stop' });
  const clear = button('Clear', () => {
    if (activeRequest !== undefined) return;
    state.user_turns = [];
    state.replies = {};
    state.raw_prompt = '';
    state.raw_outputs = {};
    saveState();
    renderAll();
  }, { appearance: 'secondary', id: 'clear' });
  const actions = el('div', { class: 'composer-actions' });
  actions.append(sendButton, stopButton, clear);
  composer.replaceChildren(system, input, actions);
}

function buildGolden(): void {
  const title = el('h2', {}, 'Golden set');
  const row = el('div', { class: 'composer-actions' });
  const file = el('span', { class: 'golden-file', id: 'golden-file' }, state.golden.file || 'no file chosen');
  const pick = button('Pick JSONL…', () => post({ type: 'pick', purpose: 'golden' }), { appearance: 'secondary', id: 'pick-golden' });
  const count = textField(String(state.golden.count), (value) => {
    const n = Math.floor(Number(value));
    if (Number.isFinite(n) && n > 0) state.golden.count = n;
    saveState();
  }, { label: 'Examples', id: 'golden-count', size: 5 });
  goldenButton = button('Run golden set', runGolden, { id: 'run-golden' });
  row.append(pick, file, count, goldenButton);
  const hint = el('p', { class: 'hint' }, 'Each column answers the first N questions; the final answers (after "####", else the last number) are compared exactly.');
  goldenBox.replaceChildren(title, row, hint);
}

// ------------------------------------------------------------------ columns

function renderAll(): void {
  buildComposer();
  renderColumns();
  updateButtons();
}

function renderColumns(): void {
  views.clear();
  columnsBox.replaceChildren(...state.columns.map(renderColumn));
}

function renderColumn(column: ColumnState): HTMLElement {
  const rootEl = el('div', { class: 'column', 'data-column-id': column.id, 'data-status': 'idle' });
  const head = el('div', { class: 'column-head' });
  const current: ModelRef | undefined = column.model ? { model: column.model, adapter: column.adapter } : undefined;
  const options = columnChoices(choices, state.extra_models, current);
  const select = dropdown(
    options.length > 0 ? options : [{ value: '', label: 'pick a model folder…' }],
    current ? refKey(current) : '',
    (value) => {
      const ref = refFromKey(value);
      if (!ref) return;
      column.model = ref.model;
      column.adapter = ref.adapter;
      saveState();
    },
  );
  select.element.classList.add('model-select');
  const adapterButton = button('Adapter…', () => post({ type: 'pick', purpose: 'adapter', column_id: column.id }), {
    appearance: 'secondary',
    title: 'Load an adapter folder (checkpoint) on this column’s base model',
  });
  const remove = button('✕', () => {
    if (activeRequest !== undefined) return;
    state.columns = state.columns.filter((c) => c.id !== column.id);
    delete state.replies[column.id];
    delete state.raw_outputs[column.id];
    delete state.golden.results[column.id];
    saveState();
    renderColumns();
    updateButtons();
  }, { appearance: 'icon', title: 'Remove column' });
  head.append(select.element, adapterButton, remove);

  const transcript = el('div', { class: 'transcript' });
  const stats = el('div', { class: 'stats' });
  const golden = el('div', { class: 'column-golden' });
  rootEl.append(head, transcript, stats, golden);
  const view: ColumnView = { root: rootEl, select, transcript, stats, golden, status: 'idle', tokens: 0, startedAt: 0 };
  views.set(column.id, view);
  renderTranscript(column, view);
  renderColumnGolden(column.id);
  return rootEl;
}

function turnElement(role: 'user' | 'assistant', text: string): HTMLElement {
  return el('pre', { class: `turn ${role}` }, text);
}

function renderTranscript(column: ColumnState, view: ColumnView): void {
  view.transcript.replaceChildren();
  if (state.mode === 'chat') {
    const replies = state.replies[column.id] ?? [];
    state.user_turns.forEach((turn, i) => {
      view.transcript.append(turnElement('user', turn));
      if (replies[i] !== undefined) view.transcript.append(turnElement('assistant', replies[i]));
    });
  } else if (state.raw_prompt !== '') {
    const pre = el('pre', { class: 'turn assistant' });
    pre.append(el('span', { class: 'prompt-echo' }, state.raw_prompt), document.createTextNode(state.raw_outputs[column.id] ?? ''));
    view.transcript.append(pre);
  }
}

function setStatus(columnId: string, status: ColumnStatus, detail?: string): void {
  const view = views.get(columnId);
  if (!view) return;
  view.status = status;
  view.root.dataset.status = status;
  const labels: Record<ColumnStatus, string> = {
    idle: '',
    queued: 'queued…',
    loading: 'loading model…',
    generating: 'generating…',
    done: '',
    stopped: 'stopped',
    error: '',
  };
  if (detail !== undefined) view.stats.textContent = detail;
  else if (labels[status] !== '') view.stats.textContent = labels[status];
  view.stats.classList.toggle('error', status === 'error');
}

/** New model choices without re-rendering: a re-render would drop the streaming state of the columns. */
function refreshColumnChoices(): void {
  for (const column of state.columns) {
    const view = views.get(column.id);
    if (!view) continue;
    const current: ModelRef | undefined = column.model ? { model: column.model, adapter: column.adapter } : undefined;
    const options = columnChoices(choices, state.extra_models, current);
    view.select.setChoices(options.length > 0 ? options : [{ value: '', label: 'pick a model folder…' }], current ? refKey(current) : '');
  }
}

/** Re-renders the columns now, or once the running request has finished. */
function renderColumnsSafely(): void {
  if (activeRequest !== undefined) {
    renderWhenIdle = true;
    return;
  }
  renderColumns();
  updateButtons();
}

function updateButtons(): void {
  const busy = activeRequest !== undefined;
  for (const control of structuralControls) control.disabled = busy;
  const ready = state.columns.length > 0 && state.columns.every((c) => c.model !== '');
  if (sendButton) sendButton.disabled = busy || !ready;
  if (stopButton) stopButton.disabled = !busy;
  if (goldenButton) goldenButton.disabled = busy || !ready || state.golden.file === '';
  document.body.dataset.busy = busy ? 'true' : 'false';
}

// ------------------------------------------------------------------ generation

function send(): void {
  if (activeRequest !== undefined) return;
  const text = state.draft;
  if (text.trim() === '' || state.columns.length === 0 || state.columns.some((c) => c.model === '')) return;
  const requestId = newId('r');
  let jobs: GenerationJob[];
  if (state.mode === 'chat') {
    state.user_turns.push(text);
    jobs = state.columns.map((c) => ({
      column_id: c.id,
      ref: refOf(c),
      messages: chatMessages(state.system, state.user_turns, state.replies[c.id] ?? []),
    }));
  } else {
    state.raw_prompt = text;
    state.raw_outputs = {};
    jobs = state.columns.map((c) => ({ column_id: c.id, ref: refOf(c), prompt: text }));
  }
  state.draft = state.mode === 'chat' ? '' : state.draft;
  saveState();
  activeRequest = requestId;
  renderAll();
  for (const column of state.columns) {
    const view = views.get(column.id);
    if (!view) continue;
    view.tokens = 0;
    view.startedAt = 0;
    if (state.mode === 'chat') {
      view.streaming = turnElement('assistant', '');
      view.transcript.append(view.streaming);
    } else {
      view.streaming = view.transcript.querySelector('pre.turn') as HTMLElement;
    }
    view.streaming.classList.add('streaming');
    setStatus(column.id, 'queued');
  }
  post({ type: 'generate', request_id: requestId, jobs, options: decodingOptions(state.decoding) });
}

function refOf(column: ColumnState): ModelRef {
  return column.adapter ? { model: column.model, adapter: column.adapter } : { model: column.model };
}

function finishRequestIfIdle(): void {
  const running = [...views.values()].some((v) => v.status === 'queued' || v.status === 'loading' || v.status === 'generating');
  if (running) return;
  activeRequest = undefined;
  if (renderWhenIdle) {
    renderWhenIdle = false;
    renderColumns();
  }
  updateButtons();
}

function storeOutput(columnId: string, text: string): void {
  if (state.mode === 'chat') {
    const replies = (state.replies[columnId] ??= []);
    replies[state.user_turns.length - 1] = text;
  } else {
    state.raw_outputs[columnId] = text;
  }
  saveState();
}

function showText(view: ColumnView, text: string): void {
  const pre = view.streaming;
  if (!pre) return;
  if (state.mode === 'chat') {
    pre.textContent = text;
  } else {
    const echo = el('span', { class: 'prompt-echo' }, state.raw_prompt);
    pre.replaceChildren(echo, document.createTextNode(text));
  }
  view.transcript.scrollTop = view.transcript.scrollHeight;
}

// ------------------------------------------------------------------ golden set

function runGolden(): void {
  if (activeRequest !== undefined || state.golden.file === '') return;
  const requestId = newId('g');
  activeRequest = requestId;
  state.golden.results = {};
  openExample.clear();
  for (const column of state.columns) {
    state.golden.results[column.id] = { correct: 0, total: state.golden.count, done: false, examples: [] };
    renderColumnGolden(column.id);
    setStatus(column.id, 'queued');
  }
  saveState();
  updateButtons();
  post({
    type: 'runGolden',
    request_id: requestId,
    file: state.golden.file,
    count: state.golden.count,
    mode: state.mode,
    system: state.system,
    columns: state.columns.map((c) => ({ column_id: c.id, ref: refOf(c) })),
    options: decodingOptions(state.decoding),
  });
}

function renderColumnGolden(columnId: string): void {
  const view = views.get(columnId);
  const result: GoldenColumnResult | undefined = state.golden.results[columnId];
  if (!view) return;
  if (!result) {
    view.golden.replaceChildren();
    return;
  }
  const scored = result.examples.length;
  const pct = scored > 0 ? Math.round((100 * result.correct) / scored) : 0;
  const accuracy = el(
    'div',
    { class: 'accuracy', 'data-correct': String(result.correct), 'data-scored': String(scored), 'data-done': String(result.done) },
    result.done ? `Golden set: ${result.correct}/${scored} = ${pct}% exact match` : `Golden set: ${result.correct}/${scored} correct so far (of ${result.total})…`,
  );
  const grid = el('div', { class: 'examples' });
  for (const example of result.examples) {
    const cell = el('button', {
      class: `example-row ${example.pass ? 'pass' : 'fail'}`,
      title: `#${example.index + 1}: ${example.pass ? 'pass' : 'fail'} — click for details`,
      'aria-pressed': String(openExample.get(columnId) === example.index),
    }, `${example.pass ? '✓' : '✗'}${example.index + 1}`);
    cell.addEventListener('click', () => {
      openExample.set(columnId, openExample.get(columnId) === example.index ? -1 : example.index);
      renderColumnGolden(columnId);
    });
    grid.append(cell);
  }
  const children: HTMLElement[] = [accuracy, grid];
  const open = result.examples.find((e) => e.index === openExample.get(columnId));
  if (open) {
    const detail = el('div', { class: 'example-detail' });
    const field = (label: string, text: string): HTMLElement[] => [el('div', { class: 'label' }, label), el('pre', {}, text)];
    detail.append(
      ...field(`Question #${open.index + 1}`, open.question),
      ...field('Model output', open.prediction),
      ...field('Reference', open.reference),
      el('div', {}, `expected ${open.expected ?? '—'} · got ${open.got ?? '—'} · ${open.pass ? 'pass' : 'fail'}`),
      button('Open in editor', () => post({
        type: 'openText',
        title: `golden-${open.index + 1}.md`,
        content: `# Question ${open.index + 1}\n\n${open.question}\n\n## Model output\n\n${open.prediction}\n\n## Reference\n\n${open.reference}\n\nexpected: ${open.expected ?? '—'} · got: ${open.got ?? '—'} · ${open.pass ? 'PASS' : 'FAIL'}\n`,
      }), { appearance: 'secondary' }),
    );
    children.push(detail);
  }
  view.golden.replaceChildren(...children);
}

// ------------------------------------------------------------------ host messages

function applyPreselect(ref: ModelRef, replace: boolean): void {
  const wanted: ModelRef[] = ref.adapter ? [{ model: ref.model }, ref] : [{ model: ref.model }];
  if (replace) state.columns = [];
  for (const w of wanted) {
    if (!state.columns.some((c) => c.model === w.model && (c.adapter ?? '') === (w.adapter ?? ''))) {
      state.columns.push({ id: newId('c'), model: w.model, adapter: w.adapter });
    }
  }
  saveState();
}

function onMessage(message: HostToPlayground): void {
  switch (message.type) {
    case 'init':
      choices = message.choices;
      arena.setChoices(choices);
      if (message.preselect) applyPreselect(message.preselect, state.columns.length === 0);
      if (state.columns.length === 0) state.columns.push({ id: newId('c'), model: choices[0]?.model ?? '' });
      saveState();
      renderAll();
      return;
    case 'choices':
      choices = message.choices;
      arena.setChoices(choices);
      refreshColumnChoices();
      return;
    case 'preselect':
      applyPreselect(message.ref, false);
      renderColumnsSafely();
      return;
    case 'picked':
      onPicked(message.purpose, message.path, message.column_id);
      return;
    default:
      break;
  }
  if (message.request_id !== activeRequest) return;
  switch (message.type) {
    case 'columnStatus':
      setStatus(message.column_id, message.status);
      break;
    case 'token': {
      const view = views.get(message.column_id);
      if (!view?.streaming) break;
      if (view.tokens === 0) view.startedAt = performance.now();
      view.tokens += 1;
      const current = state.mode === 'chat' ? (view.streaming.textContent ?? '') : (view.streaming.childNodes[1]?.textContent ?? '');
      showText(view, current + message.text);
      const seconds = (performance.now() - view.startedAt) / 1000;
      setStatus(message.column_id, 'generating', `${view.tokens} tokens${seconds > 0.05 ? ` · ${(view.tokens / seconds).toFixed(1)} tok/s` : ''}`);
      break;
    }
    case 'columnDone': {
      const view = views.get(message.column_id);
      if (!view) break;
      showText(view, message.text);
      view.streaming?.classList.remove('streaming');
      view.streaming = undefined;
      storeOutput(message.column_id, message.text);
      setStatus(
        message.column_id,
        message.cancelled ? 'stopped' : 'done',
        `${message.new_tokens} tokens · ${message.tokens_per_second.toFixed(1)} tok/s${message.cancelled ? ' · stopped' : ''}`,
      );
      finishRequestIfIdle();
      break;
    }
    case 'columnError': {
      const view = views.get(message.column_id);
      view?.streaming?.classList.remove('streaming');
      if (view) view.streaming = undefined;
      setStatus(message.column_id, 'error', message.message);
      finishRequestIfIdle();
      break;
    }
    case 'goldenExample': {
      const result = state.golden.results[message.column_id];
      if (!result) break;
      result.total = message.total;
      result.examples.push(message.result);
      if (message.result.pass) result.correct += 1;
      setStatus(message.column_id, 'generating', `golden set: ${result.examples.length}/${message.total}`);
      renderColumnGolden(message.column_id);
      saveState();
      break;
    }
    case 'goldenDone': {
      const result = state.golden.results[message.column_id];
      if (result) {
        result.done = true;
        result.correct = message.correct;
      }
      setStatus(message.column_id, message.cancelled ? 'stopped' : 'done', `golden set${message.cancelled ? ' stopped' : ''}: ${message.correct}/${message.total} correct`);
      renderColumnGolden(message.column_id);
      saveState();
      finishRequestIfIdle();
      break;
    }
    case 'goldenError':
      for (const column of state.columns) setStatus(column.id, 'error', message.message);
      finishRequestIfIdle();
      break;
  }
}

function onPicked(purpose: 'model' | 'adapter' | 'golden', path: string, columnId?: string): void {
  if (purpose === 'golden') {
    state.golden.file = path;
    saveState();
    buildGolden();
    updateButtons();
    return;
  }
  if (purpose === 'model') {
    if (!state.extra_models.includes(path)) state.extra_models.push(path);
    const target = state.columns.find((c) => c.id === columnId) ?? state.columns.find((c) => c.model === '');
    if (target) {
      target.model = path;
      target.adapter = undefined;
    } else {
      state.columns.push({ id: newId('c'), model: path });
      saveState();
      renderColumnsSafely();
      return;
    }
  } else {
    const target = state.columns.find((c) => c.id === columnId);
    if (!target || target.model === '') return;
    target.adapter = path;
  }
  saveState();
  refreshColumnChoices();
  updateButtons();
}

// ------------------------------------------------------------------ start

/** Blind A/B votes that become DPO data (webview/arena.ts). */
const arena = createArena({
  post: (message) => vscode.postMessage(message),
  options: () => decodingOptions(state.decoding),
  system: () => (state.mode === 'chat' ? state.system : ''),
});

function start(): void {
  initUi();
  root.append(controls, columnsBox, composer, goldenBox, arena.element);
  buildControls();
  buildGolden();
  renderAll();
  window.addEventListener('message', (event: MessageEvent<unknown>) => {
    if (isHostToPlayground(event.data)) onMessage(event.data);
    else if (isHostToArena(event.data)) arena.onMessage(event.data);
  });
  post({ type: 'ready' });
}

start();
