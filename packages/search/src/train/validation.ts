import { tf, type Module } from '@quantnas/core-ops';
import type { PatchBatch } from '@quantnas/data';
import { psnr, standardProtocol } from '@quantnas/metrics';

/**
 * Mean PSNR (dB) of a network over fixed validation patches: the standard protocol (Y channel,
 * output rounded to uint8, `scale` pixels shaved), inference mode, `chunk` patches per forward.
 */
export async function validationPsnr(net: Module, batch: PatchBatch, scale: number, chunk: number): Promise<number> {
  const [n, h, w] = batch.lrShape;
  const [, hh, hw] = batch.hrShape;
  const protocol = standardProtocol(scale);
  const lrPatch = h * w * 3;
  const hrPatch = hh * hw * 3;
  let sum = 0;
  for (let start = 0; start < n; start += chunk) {
    const count = Math.min(chunk, n - start);
    const x = tf.tensor4d(batch.lr.subarray(start * lrPatch, (start + count) * lrPatch), [count, h, w, 3]);
    const y = net.apply(x, { training: false });
    const out = (await y.data()) as Float32Array;
    tf.dispose([x, y]);
    for (let i = 0; i < count; i++) {
      const sr = toU8(out.subarray(i * hrPatch, (i + 1) * hrPatch));
      const hr = toU8(batch.hr.subarray((start + i) * hrPatch, (start + i + 1) * hrPatch));
      const value = psnr({ width: hw, height: hh, channels: 3, data: sr }, { width: hw, height: hh, channels: 3, data: hr }, protocol);
      // A perfect patch would be +∞: cap it so the mean stays finite.
      sum += Math.min(value, 100);
    }
  }
  return sum / n;
}

function toU8(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.min(255, Math.max(0, Math.round(values[i]! * 255)));
  return out;
}
