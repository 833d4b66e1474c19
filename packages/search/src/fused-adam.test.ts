// The fused Adam update (one kernel per variable, the global norm in one kernel) against the
// composed one: the same parameters, moments and norms over several steps, clipped or not.
import { initBackend, probeWebGpu, tf, variableFrom } from '@quantnas/core-ops';
import { describe, expect, it } from 'vitest';
import { createAdam } from './adam.js';

const values = (n: number, phase: number, scale = 1) => Float32Array.from({ length: n }, (_, i) => scale * Math.sin(1.3 * i + phase));

async function run(kernels: 'fused' | 'reference', maxNorm: number | null) {
  const shapes = [[3, 3, 4, 5], [5], [1]];
  const vars = new Map(
    shapes.map((s, i) => [
      `v${i}`,
      variableFrom(
        tf.tensor(
          values(
            s.reduce((a, b) => a * b, 1),
            i,
          ),
          s,
        ),
        true,
      ),
    ]),
  );
  const adam = createAdam({ beta1: 0.9, beta2: 0.999, weightDecay: 3e-4, kernels });
  const norms: number[] = [];
  for (let step = 0; step < 3; step++) {
    const grads = new Map([...vars].map(([name, v], i) => [name, tf.tensor(values(v.size, 7 * step + i + 0.5, 2), v.shape)]));
    if (maxNorm === null) adam.apply(vars, grads, 1e-2);
    else {
      const norm = adam.applyClipped(vars, grads, 1e-2, maxNorm);
      norms.push((await norm.data())[0]!);
      norm.dispose();
    }
    tf.dispose([...grads.values()]);
  }
  const out = new Map<string, Float32Array>();
  for (const [name, v] of vars) out.set(name, (await v.data()) as Float32Array);
  for (const [name, t] of adam.stateTensors()) out.set(name, (await t.data()) as Float32Array);
  expect(adam.steps).toBe(3);
  adam.dispose();
  for (const v of vars.values()) v.dispose();
  return { out, norms };
}

// webgpu too where an adapter exists (fused-adam-webgpu.test.ts requires one under QUANTNAS_REQUIRE_WEBGPU=1).
const webgpuFound = (await probeWebGpu({ requireDriver: true })).found;
for (const backend of ['cpu', 'wasm', ...(webgpuFound ? (['webgpu'] as const) : [])] as const) {
  describe(`fused Adam on ${backend}`, () => {
    for (const maxNorm of [null, 1, 100] as const) {
      it(`matches the composed update ${maxNorm === null ? 'without clipping' : `clipped at ${maxNorm}`}: parameters, moments, norms`, async () => {
        await initBackend(backend);
        const fused = await run('fused', maxNorm);
        const reference = await run('reference', maxNorm);
        expect([...fused.out.keys()].sort()).toEqual([...reference.out.keys()].sort());
        for (const [name, r] of reference.out) {
          const f = fused.out.get(name)!;
          for (let i = 0; i < r.length; i++) expect(Math.abs(f[i]! - r[i]!), `${name}[${i}]`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(r[i]!)));
        }
        fused.norms.forEach((n, i) => expect(n).toBeCloseTo(reference.norms[i]!, 4));
        if (maxNorm !== null) expect(reference.norms[0]).toBeGreaterThan(1); // clipping at 1 really clips
      });
    }
  });
}
