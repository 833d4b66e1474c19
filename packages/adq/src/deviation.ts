/**
 * Plain-array reference of ADQ's input statistic: the standard deviation of each sample over all
 * of its (H, W, C) values, computed in float64 with a two-pass formula (no cancellation). The
 * tensor implementation and the integer runtime are checked against it.
 */
export function perSampleDeviation(values: ArrayLike<number>, batch: number, correction: 0 | 1): Float64Array {
  if (!Number.isInteger(batch) || batch < 1 || values.length % batch !== 0) {
    throw new Error(`perSampleDeviation: ${values.length} values cannot be split into ${batch} samples`);
  }
  const n = values.length / batch;
  if (n - correction < 1) throw new Error(`perSampleDeviation: a sample of ${n} value(s) has no deviation`);
  const out = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    let sum = 0;
    for (let i = b * n; i < (b + 1) * n; i++) sum += values[i]!;
    const mean = sum / n;
    let squares = 0;
    for (let i = b * n; i < (b + 1) * n; i++) squares += (values[i]! - mean) ** 2;
    out[b] = Math.sqrt(squares / (n - correction));
  }
  return out;
}

/** ADQ's scale φ(σ) = a·σ + c. */
export function adqScale(sigma: number, slope: number, offset: number): number {
  return slope * sigma + offset;
}
