// "Export…" on a checkpoint: the targets offered and the `ftune export` arguments built for each,
// checked against the CLI's own parser (so a flag the CLI does not know fails here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { EXPORT_TARGETS } from '../../src/export';
import { isExportResult, type ExportResult } from '../../src/core/protocol';
import { defaultExportDir, EXPORT_CHOICES, exportArgs, exportChoicesFor, exportMessage, type ExportChoiceId } from '../../src/extension/exportArgs';

const RUN = path.join('/ws', '.finetune', 'runs', 'r1');
const CKPT = path.join(RUN, 'checkpoints', 'step-2');

function argsFor(choice: ExportChoiceId, weights: 'adapter' | 'full' = 'adapter'): string[] {
  return exportArgs({ choice, checkpointPath: CKPT, weights, runDir: RUN, out: defaultExportDir(RUN, choice, 2, false) });
}

/** The flags as `ftune export` would read them (strict: unknown flags throw). */
function parsed(args: string[]): Record<string, string | boolean | undefined> {
  assert.equal(args[0], 'export');
  const { values } = parseArgs({
    args: args.slice(1), strict: true,
    options: { to: { type: 'string' }, out: { type: 'string' }, model: { type: 'string' }, adapter: { type: 'string' }, run: { type: 'string' }, dtype: { type: 'string' }, type: { type: 'string' }, json: { type: 'boolean' } },
  });
  return values;
}

test('each of the five targets maps to a --to the CLI accepts, with --run and the checkpoint as --adapter', () => {
  const expected: Record<ExportChoiceId, { to: string; type?: string }> = {
    peft: { to: 'peft' }, merged: { to: 'merged' }, 'gguf-f16': { to: 'gguf', type: 'f16' }, 'gguf-q8_0': { to: 'gguf', type: 'q8_0' }, trl: { to: 'trl' },
  };
  assert.deepEqual(EXPORT_CHOICES.map((c) => c.id), Object.keys(expected));
  for (const choice of EXPORT_CHOICES) {
    const values = parsed(argsFor(choice.id));
    assert.equal(values.to, expected[choice.id].to, choice.id);
    assert.ok((EXPORT_TARGETS as readonly string[]).includes(String(values.to)), `${choice.id}: ${values.to} is an export target`);
    assert.equal(values.type, expected[choice.id].type, `${choice.id} --type`);
    assert.equal(values.run, RUN, `${choice.id} --run (the run's chat template)`);
    assert.equal(values.adapter, CKPT, `${choice.id} exports the right-clicked checkpoint, not the run's final adapter`);
    assert.equal(values.model, undefined, `${choice.id}: the base model comes from the run`);
    assert.equal(values.out, path.join(RUN, 'exports', `${choice.id}-step-2`));
  }
});

test('a full fine-tuning checkpoint is passed as --model and cannot be exported as PEFT', () => {
  const values = parsed(argsFor('merged', 'full'));
  assert.equal(values.model, CKPT);
  assert.equal(values.adapter, undefined);
  assert.deepEqual(exportChoicesFor('full').map((c) => c.id), ['merged', 'gguf-f16', 'gguf-q8_0', 'trl']);
  assert.deepEqual(exportChoicesFor('adapter').map((c) => c.id), EXPORT_CHOICES.map((c) => c.id));
  assert.throws(() => argsFor('peft', 'full'), /PEFT/);
});

test('the default folder is <run>/exports/<target>-step-N; the final adapter gets its own', () => {
  assert.equal(defaultExportDir(RUN, 'gguf-q8_0', 40, false), path.join(RUN, 'exports', 'gguf-q8_0-step-40'));
  assert.notEqual(defaultExportDir(RUN, 'merged', 40, true), defaultExportDir(RUN, 'merged', 40, false));
  assert.match(defaultExportDir(RUN, 'merged', 40, true), /merged-step-40-final$/);
});

test('the quick pick labels are the ones in the menu of the spec', () => {
  assert.deepEqual(EXPORT_CHOICES.map((c) => c.label), [
    'PEFT adapter', 'Merged Hugging Face folder', 'GGUF f16', 'GGUF q8_0 + Ollama Modelfile', 'TRL + Accelerate + Axolotl project',
  ]);
});

test('package.json declares the command, its menu on checkpoint items, and the command table registers it', () => {
  const root = path.resolve(__dirname, '..', '..', '..');
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    contributes: { commands: { command: string; title: string; category: string; icon: string }[]; menus: Record<string, { command: string; when?: string }[]> };
  };
  const command = pkg.contributes.commands.find((c) => c.command === 'finetuneStudio.exportCheckpoint');
  assert.deepEqual(command, { command: 'finetuneStudio.exportCheckpoint', title: 'Export…', category: 'Finetune Studio', icon: '$(export)' });
  const menu = pkg.contributes.menus['view/item/context'].find((m) => m.command === 'finetuneStudio.exportCheckpoint');
  assert.equal(menu?.when, 'view == finetuneStudio.checkpoints && viewItem == checkpoint');
  assert.match(fs.readFileSync(path.join(root, 'src', 'extension', 'commands', 'index.ts'), 'utf8'), /^\s+exportCheckpoint: on\(exportCheckpoint\),$/m);
});

test('every export asks for --json, and the message after it carries the result\'s notes and warnings', () => {
  for (const choice of EXPORT_CHOICES) assert.equal(parsed(argsFor(choice.id)).json, true, choice.id);
  const out = path.join(RUN, 'exports', 'merged-step-2');
  const result: ExportResult = {
    to: 'merged', out, files: ['config.json', 'model.safetensors'], details: {},
    notes: ['the adapter was trained on a nf4-quantized base; it is merged into the original bfloat16 weights of /m (as PEFT merges a QLoRA adapter), not into the nf4 values'],
    warnings: ['the tokenizer folder has no chat template'],
  };
  assert.equal(isExportResult(JSON.parse(JSON.stringify(result))), true);
  assert.equal(
    exportMessage(out, result),
    `Finetune Studio: Exported to ${out} (2 files). The adapter was trained on a nf4-quantized base; it is merged into the original bfloat16 weights of /m ` +
      '(as PEFT merges a QLoRA adapter), not into the nf4 values. Warning: the tokenizer folder has no chat template.',
  );
  // an older CLI's text output (no JSON result): the folder alone
  assert.equal(isExportResult({ out, files: [] }), false);
  assert.equal(exportMessage(out, undefined), `Finetune Studio: Exported to ${out}.`);
});
