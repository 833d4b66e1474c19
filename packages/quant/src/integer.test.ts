import { tf, type ConvSite } from '@quantnas/core-ops';
import { beforeAll, describe, expect, it } from 'vitest';
import { hwgqFixedStep } from './hwgq.js';
import { activationCodes, dequantizeActivations, dequantizeWeights, integerWeights, roundHalfEven } from './integer.js';
import { lsqRange } from './lsq.js';
import { qatQuantizers } from './qat-quantizers.js';
import type { WeightScheme } from './quant-spec.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Numbers with −0 read as 0: tf.round gives −0 for small negatives, integer codes cannot. */
const plain = (v: ArrayLike<number>) => Array.from(v, (x) => x + 0);
const values = (n: number, scale = 1, offset = 0, phase = 0) =>
  Array.from({ length: n }, (_, i) => offset + scale * Math.sin(1.9 * i + 0.7 + phase) * Math.cos(0.23 * i + phase));

const [N, H, WD, CI, CO, K] = [1, 5, 4, 3, 4, 3];

/** Σ u·q over a K×K "same" window, int32, NHWC × HWIO: the integer kernel's reference. */
function integerConv(u: Uint8Array, q: Int8Array): Int32Array {
  const out = new Int32Array(N * H * WD * CO);
  const pad = (K - 1) / 2;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < WD; x++)
      for (let o = 0; o < CO; o++) {
        let acc = 0;
        for (let ky = 0; ky < K; ky++)
          for (let kx = 0; kx < K; kx++) {
            const iy = y + ky - pad;
            const ix = x + kx - pad;
            if (iy < 0 || iy >= H || ix < 0 || ix >= WD) continue;
            for (let c = 0; c < CI; c++) acc = (acc + u[(iy * WD + ix) * CI + c]! * q[((ky * K + kx) * CI + c) * CO + o]!) | 0;
          }
        out[(y * WD + x) * CO + o] = acc;
      }
  return out;
}

describe('integer conversion', () => {
  it('rounds half to even like tf.round', () => {
    expect([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4, -2.6].map(roundHalfEven)).toEqual([-2, -2, -0, 0, 2, 2, 2, -3]);
  });

  for (const [wBits, aBits, scheme] of [
    [4, 8, 'lsq'],
    [2, 2, 'lsq-symmetric'],
    [8, 4, 'lsq'],
  ] as [2 | 4 | 8, 2 | 4 | 8, WeightScheme][]) {
    it(`gives q·s_c and u·a equal to the ${wBits}/${aBits}-bit fake-quant tensors, and Σu·q·s_c·a equal to the float conv`, async () => {
      const site: ConvSite = { name: 'conv', shape: { kernelH: K, kernelW: K, inChannels: CI, outChannels: CO, groups: 1 } };
      const q = qatQuantizers(() => ({ weightBits: wBits, activationBits: aBits, weightScheme: scheme, activationScheme: 'hwgq' }))(site);
      const w = tf.tensor4d(values(K * K * CI * CO, 0.3), [K, K, CI, CO]);
      // Inputs spanning below 0 and above the clip.
      const x = tf.tensor4d(values(N * H * WD * CI, 3 * hwgqFixedStep(aBits)! * (2 ** aBits - 1), 0.2, 1), [N, H, WD, CI]);
      const [wHat, xHat] = [q.weight(w, true), q.input(x, true)];
      const exported = await q.exportInteger(w);
      const iw = exported.weights!;
      const { qn, qp } = lsqRange(wBits, scheme);
      expect(iw.values.every((v) => v >= -qn && v <= qp)).toBe(true);
      expect(plain(dequantizeWeights(iw))).toEqual(plain(await wHat.data()));
      expect(exported.activation).toEqual({ bits: aBits, step: hwgqFixedStep(aBits) });
      const u = activationCodes(await x.data(), aBits, exported.activation!.step);
      expect(Math.max(...u)).toBe(2 ** aBits - 1);
      expect(plain(dequantizeActivations(u, exported.activation!.step))).toEqual(plain(await xHat.data()));

      // Integer sum: the scalar reference equals a float conv of the codes (exact below 2^24).
      const acc = integerConv(u, iw.values);
      const codesConv = tf.tidy(() =>
        tf.conv2d(tf.tensor4d(Array.from(u), [N, H, WD, CI]), tf.tensor4d(Array.from(iw.values), [K, K, CI, CO]), 1, 'same').dataSync(),
      );
      expect(plain(codesConv)).toEqual(plain(acc));
      // Scaling: acc·s_c·a against the fake-quant float conv, relative to the sum of |terms|.
      const absAcc = integerConv(u, Int8Array.from(iw.values, Math.abs));
      const floatConv = tf.tidy(() => tf.conv2d(xHat, wHat, 1, 'same').dataSync());
      const a = exported.activation!.step;
      let worst = 0;
      floatConv.forEach((v, i) => {
        const s = iw.scales[i % CO]! * a;
        worst = Math.max(worst, Math.abs(v - acc[i]! * s) / Math.max(absAcc[i]! * s, 1e-30));
      });
      expect(worst).toBeLessThan(1e-6);
      expect(acc.some((v) => v !== 0)).toBe(true);
      tf.dispose([w, x, wHat, xHat]);
      q.dispose();
    });
  }

  it('rejects 32 bits and mismatched shapes with clear errors', () => {
    expect(() => integerWeights([0], [1, 1, 1, 1], [1], 32)).toThrow('got 32');
    expect(() => integerWeights([0, 1], [1, 1, 1, 1], [1], 4)).toThrow('needs 1 values, got 2');
    expect(() => integerWeights([0], [1, 1, 1, 1], [0], 4)).toThrow('not positive');
    expect(() => activationCodes([0], 9, 0.1)).toThrow('bit-width 9 is not supported');
  });
});
