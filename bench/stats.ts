// Small statistics the benchmark reports, kept apart so they can be tested on their own.

/** The q-quantile (0..1) of ascending `sorted` values, nearest rank; NaN when there are none. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Least-squares slope of y over x (y per unit of x); NaN with fewer than two distinct x. */
export function slope(points: ReadonlyArray<{ x: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  if (sxx === 0) return Number.NaN;
  return points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
}

/** The middle value (the mean of the middle two for an even count); NaN when there are none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Legs run SQL, HTTP, SQL, HTTP, …, SQL: each HTTP rate against the mean of the SQL rates right
 * before and right after it, and the median of those ratios (one odd leg, either way, does not
 * decide it).
 */
export function bracketedRatios(http: readonly number[], sql: readonly number[]): { ratios: number[]; median: number } {
  if (http.length === 0 || sql.length !== http.length + 1) {
    throw new Error(`expected one SQL leg more than HTTP legs, got ${sql.length} and ${http.length}`);
  }
  const ratios = http.map((rate, i) => rate / ((sql[i]! + sql[i + 1]!) / 2));
  return { ratios, median: median(ratios) };
}
