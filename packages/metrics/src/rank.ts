/**
 * Kendall's τ-b of two paired samples: (concordant − discordant) / √((n₀ − n₁)(n₀ − n₂)), where n₀
 * counts all pairs and n₁, n₂ the pairs tied in x and in y. Ties count for neither side, as in
 * the statistic SciPy's `kendalltau` computes by default. O(n²): meant for tens of items.
 * NaN when either sample is constant (no ordering to agree with).
 */
export function kendallTau(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new RangeError(`kendallTau: the samples have ${x.length} and ${y.length} items; they must be paired`);
  if (x.length < 2) throw new RangeError(`kendallTau: needs at least 2 pairs, got ${x.length}`);
  for (const [name, values] of [
    ['x', x],
    ['y', y],
  ] as const) {
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new RangeError(`kendallTau: ${name}[${bad}] is ${values[bad]}, not a finite number`);
  }
  let concordant = 0;
  let discordant = 0;
  let tiedX = 0;
  let tiedY = 0;
  let pairs = 0;
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) {
      pairs++;
      const dx = Math.sign(x[i]! - x[j]!);
      const dy = Math.sign(y[i]! - y[j]!);
      if (dx === 0) tiedX++;
      if (dy === 0) tiedY++;
      if (dx !== 0 && dy !== 0) {
        if (dx === dy) concordant++;
        else discordant++;
      }
    }
  }
  const denominator = Math.sqrt((pairs - tiedX) * (pairs - tiedY));
  return denominator === 0 ? Number.NaN : (concordant - discordant) / denominator;
}
