// Tests load the kernels from dist/: rebuild them first when the AssemblyScript sources changed.
import { buildKernels, kernelsStale } from './build-wasm.mjs';

export default async function setup() {
  if (await kernelsStale()) await buildKernels();
}
