// DPO against ../shared/conformance/*/cases/dpo.json: log-probs, rewards, loss, gradients and the
// adapter after 3 AdamW steps, for every fixture model (checkDpo in helpers/conformanceCases.ts).
import { before, describe, test } from 'node:test';
import { initBackend } from '../../src/engine/backend';
import { CONFORMANCE_MODELS } from '../helpers/conformance';
import { checkDpo } from '../helpers/conformanceCases';

before(async () => {
  await initBackend('wasm');
});

for (const name of CONFORMANCE_MODELS) {
  describe(`DPO conformance: ${name}`, () => {
    test('log-probs, rewards, loss, gradients and the adapter after 3 steps', async () => {
      await checkDpo(name);
    });
  });
}
