/** What one run of a job did: skipped (another instance held the lock), or counts per outcome. */
export type JobRun<Outcome extends string> =
  | { skipped: true }
  | { skipped: false; examined: number; outcomes: Record<Outcome, number> };

export function countOutcomes<Outcome extends string>(names: readonly Outcome[], results: readonly Outcome[]): JobRun<Outcome> {
  const outcomes = Object.fromEntries(names.map((name) => [name, 0])) as Record<Outcome, number>;
  for (const result of results) outcomes[result] += 1;
  return { skipped: false, examined: results.length, outcomes };
}
