// How FTUNE_WEBGPU_FUSED and FTUNE_WASM_FUSED choose between our fused kernels and the composite tfjs
// ops, for A/B comparisons: unset, empty or 1 allows every fused kernel, 0 none, and a comma-separated
// list of kernel names only those.

/** Whether `setting` (the environment variable's value) allows the fused kernel `kernel`. */
export function fusedKernelAllowed(setting: string | undefined, kernel: string): boolean {
  if (setting === undefined || setting === '' || setting === '1') return true;
  return setting !== '0' && setting.split(',').map((s) => s.trim()).includes(kernel);
}
