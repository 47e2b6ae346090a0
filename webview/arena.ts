// The playground's Arena (browser side): two models answer the same prompt in columns "A" and "B"
// whose identity only the host knows; after the vote (A / B / tie / both bad) the names are revealed
// and the running tally per model pair is shown. Decisive votes become DPO rows in the workspace
// (host: src/extension/arena/). Model output is only ever written with textContent.

import type { ArenaPairTally, ArenaSide, ArenaToHost, ArenaVoteKind, HostToArena } from '../src/core/arenaProtocol.js';
import type { DecodingOptions, ModelChoice, ModelRef } from '../src/core/protocol.js';
import { el } from './lib/dom.js';
import { columnChoices, refFromKey } from './lib/playgroundState.js';
import { button, dropdown, textArea, type ButtonElement, type Dropdown } from './ui.js';

export interface ArenaDeps {
  post(message: ArenaToHost): void;
  /** the playground's current decoding settings and system prompt (the arena uses the same). */
  options(): DecodingOptions;
  system(): string;
}

export interface Arena {
  element: HTMLElement;
  setChoices(choices: readonly ModelChoice[]): void;
  onMessage(message: HostToArena): void;
}

export function createArena(deps: ArenaDeps): Arena {
  const element = el('section', { class: 'arena', id: 'arena' });
  let choices: readonly ModelChoice[] = [];
  let picks: [string, string] = ['', ''];
  let prompt = '';
  let requestId: string | undefined;
  let counter = 0;
  const done = new Set<ArenaSide>();
  let voted = false;

  const answers: Record<ArenaSide, HTMLElement> = { A: el('pre', { class: 'arena-answer', id: 'arena-answer-A' }), B: el('pre', { class: 'arena-answer', id: 'arena-answer-B' }) };
  const names: Record<ArenaSide, HTMLElement> = { A: el('span', { class: 'arena-name', id: 'arena-name-A' }, 'Model A'), B: el('span', { class: 'arena-name', id: 'arena-name-B' }, 'Model B') };
  const stats: Record<ArenaSide, HTMLElement> = { A: el('span', { class: 'stats' }), B: el('span', { class: 'stats' }) };
  const status = el('p', { class: 'arena-status', id: 'arena-status' });
  const tallyBox = el('div', { class: 'arena-tally', id: 'arena-tally' });

  const selects: Dropdown[] = [0, 1].map((i) =>
    dropdown([], '', (value) => {
      picks[i] = value;
      update();
    }, `arena-model-${i}`),
  );
  const input = textArea('', (value) => {
    prompt = value;
    update();
  }, { label: 'Arena prompt', rows: 3, id: 'arena-prompt', placeholder: 'Both models answer this; their names stay hidden until you vote' });
  const ask = button('Ask both', () => send(), { id: 'arena-ask' });
  const votes: Record<ArenaVoteKind, ButtonElement> = {
    A: button('A is better', () => vote('A'), { id: 'arena-vote-A' }),
    B: button('B is better', () => vote('B'), { id: 'arena-vote-B' }),
    tie: button('Tie', () => vote('tie'), { appearance: 'secondary', id: 'arena-vote-tie' }),
    bad: button('Both bad', () => vote('bad'), { appearance: 'secondary', id: 'arena-vote-bad' }),
  };
  const trainDpo = button('Train DPO on these votes', () => deps.post({ type: 'arenaTrainDpo' }), { appearance: 'secondary', id: 'arena-train-dpo' });

  const columns = (['A', 'B'] as const).map((side: ArenaSide) => {
    const box = el('div', { class: 'arena-column' });
    box.append(el('h3', {}, ''), answers[side], stats[side]);
    box.querySelector('h3')?.append(names[side]);
    return box;
  });
  element.append(
    el('h2', {}, 'Arena'),
    el('div', { class: 'toolbar' }),
    input,
    el('div', { class: 'toolbar arena-actions' }),
    el('div', { class: 'arena-columns' }),
    el('div', { class: 'toolbar arena-votes' }),
    status,
    tallyBox,
  );
  const [, pickers, , actions, cols, votesBar] = Array.from(element.children) as HTMLElement[];
  pickers.append(selects[0].element, selects[1].element);
  actions.append(ask);
  cols.append(...columns);
  votesBar.append(votes.A, votes.B, votes.tie, votes.bad, trainDpo);

  function update(): void {
    const streaming = requestId !== undefined && done.size < 2;
    ask.disabled = streaming || prompt.trim() === '' || picks.some((p) => p === '') || picks[0] === picks[1];
    const canVote = requestId !== undefined && done.size === 2 && !voted;
    for (const b of Object.values(votes)) b.disabled = !canVote;
  }

  function send(): void {
    const refs = picks.map((key) => refFromKey(key)) as [ModelRef, ModelRef];
    const labels = picks.map((key) => columnChoices(choices, []).find((c) => c.value === key)?.label ?? key) as [string, string];
    requestId = `arena-${Date.now()}-${counter++}`;
    done.clear();
    voted = false;
    for (const side of ['A', 'B'] as const) {
      answers[side].textContent = '';
      stats[side].textContent = '';
      names[side].textContent = `Model ${side}`;
    }
    status.textContent = 'Both models are answering…';
    deps.post({ type: 'arenaAsk', request_id: requestId, prompt, system: deps.system(), refs, labels, options: deps.options() });
    update();
  }

  function vote(kind: ArenaVoteKind): void {
    if (!requestId) return;
    voted = true;
    deps.post({ type: 'arenaVote', request_id: requestId, vote: kind });
    update();
  }

  function renderTally(tallies: readonly ArenaPairTally[], file: string, rows: number): void {
    const table = el('table');
    table.append(el('tr'));
    (table.lastElementChild as HTMLElement).append(el('th', {}, 'Pair'), el('th', {}, 'Wins'), el('th', {}, 'Ties'), el('th', {}, 'Both bad'));
    for (const t of tallies) {
      const row = el('tr');
      row.append(el('td', {}, `${t.models[0]} vs ${t.models[1]}`), el('td', {}, `${t.wins[0]} : ${t.wins[1]}`), el('td', {}, String(t.ties)), el('td', {}, String(t.both_bad)));
      table.append(row);
    }
    tallyBox.replaceChildren(el('p', { id: 'arena-rows', 'data-rows': String(rows) }, `${rows} preference row${rows === 1 ? '' : 's'} in ${file}`), table);
    trainDpo.disabled = rows === 0;
  }

  trainDpo.disabled = true;
  update();
  deps.post({ type: 'arenaInit' });

  return {
    element,
    setChoices(next) {
      choices = next;
      const options = columnChoices(choices, []);
      // a different model in each column by default: the base and the newest checkpoint
      picks = [picks[0] || options[0]?.value || '', picks[1] || options[1]?.value || ''];
      selects.forEach((s, i) => s.setChoices(options, picks[i]));
      update();
    },
    onMessage(message) {
      if (message.type === 'arenaTally') {
        renderTally(message.tallies, message.file, message.rows);
        return;
      }
      if (message.type === 'arenaError') {
        status.textContent = message.message;
        if (message.request_id === requestId) done.add('A').add('B');
        update();
        return;
      }
      if (message.request_id !== requestId) return;
      switch (message.type) {
        case 'arenaToken':
          answers[message.side].textContent += message.text;
          break;
        case 'arenaDone':
          answers[message.side].textContent = message.text;
          stats[message.side].textContent = `${message.tokens_per_second.toFixed(1)} tokens/s${message.cancelled ? ' (stopped)' : ''}`;
          done.add(message.side);
          if (done.size === 2) status.textContent = 'Which answer is better?';
          break;
        case 'arenaRevealed':
          names.A.textContent = `A: ${message.names.A}`;
          names.B.textContent = `B: ${message.names.B}`;
          status.textContent = message.line !== undefined ? `Vote saved as preference row ${message.line}.` : `Vote counted; no row written: ${message.skipped ?? ''}`;
          break;
      }
      update();
    },
  };
}
