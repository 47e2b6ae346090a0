// Shared set-up of the webgpu test files: the webgpu backend (Dawn; without a GPU, Mesa's lavapipe from
// scripts/setup-webgpu.sh provides a CPU Vulkan adapter). Tests are skipped only where no WebGPU adapter
// can be created at all, with the reason printed.
import { before, type TestContext } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend';
import { webGpuUnavailableReason } from '../../src/engine/webgpu';

/**
 * Registers a before() hook that starts the webgpu backend for this file, and returns the check each
 * test calls first: true (and the test marked skipped, with the reason) when no adapter exists.
 */
export function useWebGpuBackend(what: string): (t: TestContext) => boolean {
  let unavailable: string | undefined;
  before(async () => {
    unavailable = await webGpuUnavailableReason();
    if (unavailable) {
      process.stdout.write(`${what} skipped: ${unavailable}\n`);
      return;
    }
    const info = await initBackend('webgpu');
    assert.equal(tf.getBackend(), 'webgpu');
    process.stdout.write(`${info.device}\n`);
  });
  return (t) => {
    if (unavailable) t.skip(unavailable);
    return unavailable !== undefined;
  };
}
