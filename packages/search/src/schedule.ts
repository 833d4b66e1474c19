/**
 * Weight of the entropy term in epoch `epoch` (0-based) of a search of `epochs` epochs whose first
 * `warmup` epochs train w only (docs/method.md §7): w1(e)·w2(e) with u = floor((E − W)/4),
 * w1(e) = (e − W)/(E − 1 − W), w2(e) = 0 while e − W < u, else log(e − W − u + 2)/log(E − W − u + 1).
 * Zero in the warm-up, one in the last epoch. With a single α epoch (E − 1 = W) w1 is taken as 1.
 */
export function entropyScheduleWeight(epoch: number, epochs: number, warmup: number): number {
  if (!Number.isInteger(epoch) || !Number.isInteger(epochs) || !Number.isInteger(warmup) || epochs < 1 || warmup < 0) {
    throw new RangeError(`entropy schedule: epoch ${epoch}, epochs ${epochs}, warmup ${warmup} must be integers (epochs ≥ 1, warmup ≥ 0)`);
  }
  const d = epoch - warmup;
  if (d < 0 || epoch >= epochs) return 0;
  const u = Math.floor((epochs - warmup) / 4);
  if (d < u) return 0;
  const w1 = epochs - 1 - warmup === 0 ? 1 : d / (epochs - 1 - warmup);
  const w2 = Math.log(d - u + 2) / Math.log(epochs - warmup - u + 1);
  return w1 * w2;
}

/**
 * Cosine annealing from `lr` to `lrMin` over `total` steps, evaluated at `step` (0-based): the
 * per-step form of PyTorch's CosineAnnealingLR, so a resumed run gets the same rate.
 */
export function cosineLr(step: number, total: number, lr: number, lrMin: number): number {
  if (total <= 0) return lr;
  // t never reaches 1, so the last step still learns (as PyTorch's per-epoch form never reaches lrMin).
  const t = Math.min(Math.max(step, 0), total) / total;
  return lrMin + (lr - lrMin) * 0.5 * (1 + Math.cos(Math.PI * t));
}
