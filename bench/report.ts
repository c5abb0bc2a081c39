// The benchmark's one table (Markdown, so that bench/RESULTS.md is the output of a run as it was
// printed) and the goals of issue 12, each checked against what this run measured.
import { spawnSync } from 'node:child_process';
import { cpus, release, totalmem } from 'node:os';
import type { AfterVacuum } from './bench-database.ts';
import type { CdcLeg } from './cdc-leg.ts';
import type { Leg } from './measure.ts';
import type { Soak } from './soak.ts';
import { RATE_WARM_UP_MS, type SqlLimitResult } from './sql-limit.ts';
import { bracketedRatios, median } from './stats.ts';

/** Issue 12. Ratios are to the same SQL at the same concurrency in the same run. */
export const goals = {
  checkoutRatio: 0.5,
  webhookRatio: 0.6,
  checkoutCpuMs: 1.0,
  webhookCpuMs: 0.5,
  /** At half the peak rate. */
  p99Ms: 25,
  rssMiB: 150,
  /** "Flat across a 10-minute run": what a least-squares line through the soak's RSS gains in 10 minutes. */
  soakGrowthMiBPer10Min: 5,
  /** npm start's embedded simulator against the simulator in its own process (issue 11). */
  embeddedRatio: 0.9,
  cdcP99Ms: 300,
  cdcRate: 500,
  backlogDrainPerSecond: 2000,
} as const;

export type SqlLeg = SqlLimitResult & AfterVacuum & { postgresCpuMsPerTransaction: number | undefined };
export type HttpLeg = Leg & AfterVacuum;

export type BenchRun = {
  startedAt: Date;
  database: { server: string; version: string };
  connections: number;
  durationSeconds: number;
  warmUpSeconds: number;
  /**
   * The peak legs, in order; each path's SQL legs ran before the first and after each (one more).
   * Each leg started after a VACUUM (ANALYZE) of the checkout tables.
   */
  checkout: HttpLeg[];
  checkoutHalf: HttpLeg;
  sqlCheckout: SqlLeg[];
  /** The same SQL at the half-peak leg's rate, open loop: its latency's peer. */
  sqlCheckoutHalf: SqlLeg;
  webhook: HttpLeg[];
  webhookHalf: HttpLeg;
  sqlWebhook: SqlLeg[];
  sqlWebhookHalf: SqlLeg;
  embedded: HttpLeg;
  soak: Soak | undefined;
  cdc: CdcLeg | undefined;
};

const n0 = (v: number) => v.toFixed(0);
const n1 = (v: number) => v.toFixed(1);
const n2 = (v: number) => v.toFixed(2);
// A ratio just under its goal must not print as the goal itself (0.497 as "0.50 … missed").
const ratio = (v: number) => v.toFixed(3);
const latency = (r: { p50: number; p95: number; p99: number }) => `${n1(r.p50)} / ${n1(r.p95)} / ${n1(r.p99)}`;

export function report(run: BenchRun): { text: string; missed: string[] } {
  const missed: string[] = [];
  const verdict = (ok: boolean, what: string) => {
    if (!ok) missed.push(what);
    return ok ? 'met' : '**missed**';
  };
  const checkoutRatio = bracketedRatios(run.checkout.map((l) => l.perSecond), run.sqlCheckout.map((l) => l.perSecond));
  const webhookRatio = bracketedRatios(run.webhook.map((l) => l.perSecond), run.sqlWebhook.map((l) => l.perSecond));
  const embeddedRatio = run.embedded.perSecond / median(run.checkout.map((l) => l.perSecond));
  const halfRssMax = Math.max(run.checkoutHalf.rssMaxMiB, run.webhookHalf.rssMaxMiB);

  const lines = [
    `# npm run bench: ${run.startedAt.toISOString()}`,
    '',
    `Machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${n0(totalmem() / 2 ** 30)} GiB, Linux ${release()}, Node ${process.version}; ` +
      `PostgreSQL ${run.database.version} (${run.database.server}), durable defaults. Service, simulator, load generator, PostgreSQL and pgbench share the machine.`,
    `${run.connections} connections (HTTP) and clients (SQL); after ${run.warmUpSeconds} s of checkouts unmeasured (then their webhooks), HTTP legs ${run.durationSeconds} s each (webhooks: one per order of the checkout leg of the same number; the embedded simulator's: ${run.embedded.requests} checkouts after as many unmeasured); peak legs closed loop (${run.checkout[0]!.generator}), half-peak legs open loop at even intervals, latency from each request's due time (undici); SQL: ${run.sqlCheckout[0]!.transactions} transactions a run through ${run.sqlCheckout[0]!.driver}, before the first peak leg of the path and after each (a peak's SQL limit: the mean of the runs right before and after it; the ratio: the median over the ${run.checkout.length} peaks).`,
    '',
    '| path | req/s | p50 / p95 / p99 ms | service CPU ms/req | service RSS max MiB | autovacuum passes |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...alternating(run.sqlCheckout, run.checkout, (r, i) => sqlRow(`create_order + attach_payment_intent (SQL ${i})`, r), (l, i) => row(`POST /checkout, peak ${i + 1}`, l)),
    row("POST /checkout, npm start's embedded simulator (in the service's process, with its journal), after the peaks above", run.embedded),
    row(`POST /checkout at half the peak (${n0(run.checkoutHalf.perSecond)}/s)`, run.checkoutHalf),
    sqlRow(`create_order + attach_payment_intent at that rate (${run.sqlCheckoutHalf.driver})`, run.sqlCheckoutHalf),
    ...alternating(run.sqlWebhook, run.webhook, (r, i) => sqlRow(`apply_stripe_event (SQL ${i})`, r), (l, i) => row(`POST /webhooks/stripe, peak ${i + 1}`, l)),
    row(`POST /webhooks/stripe at half the peak (${n0(run.webhookHalf.perSecond)}/s)`, run.webhookHalf),
    sqlRow(`apply_stripe_event at that rate (${run.sqlWebhookHalf.driver})`, run.sqlWebhookHalf),
    '',
    'Each leg starts after a VACUUM (ANALYZE) of the checkout tables; the last column counts the autovacuum and autoanalyze passes over them during the leg. ' +
      'The SQL rows "at that rate" are the peers of the half-peak legs above them, run after all the HTTP legs: open loop at the same rate, latency from each transaction\'s due time ' +
      `(pgbench spaces its transactions as a Poisson process, the HTTP legs evenly); their percentiles leave out the first ${RATE_WARM_UP_MS / 1000} s, while each new connection compiles the functions (the service's pool is warm).`,
    '',
    'Where the CPU goes, ms per request (the SQL legs: PostgreSQL per transaction, its autovacuum workers included; pgbench itself not counted). ' +
      'Peak legs; the machine has 2000 ms of CPU per second, so the sum bounds the rate.',
    '',
    '| path | service | simulator | PostgreSQL | load generator | sum |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...alternating(run.sqlCheckout, run.checkout, (r, i) => sqlCpuRow(`create_order + attach_payment_intent (SQL ${i})`, r), (l, i) => cpuRow(`POST /checkout, peak ${i + 1}`, l)),
    ...alternating(run.sqlWebhook, run.webhook, (r, i) => sqlCpuRow(`apply_stripe_event (SQL ${i})`, r), (l, i) => cpuRow(`POST /webhooks/stripe, peak ${i + 1}`, l)),
    '',
    '| goal | measured | target | |',
    '| --- | ---: | ---: | --- |',
    `| POST /checkout / SQL limit, median of the peaks | ${ratioCell(checkoutRatio)} | ≥ ${goals.checkoutRatio} | ${verdict(checkoutRatio.median >= goals.checkoutRatio, `checkout ratio ${ratio(checkoutRatio.median)}`)} |`,
    `| POST /webhooks/stripe / SQL limit, median of the peaks | ${ratioCell(webhookRatio)} | ≥ ${goals.webhookRatio} | ${verdict(webhookRatio.median >= goals.webhookRatio, `webhook ratio ${ratio(webhookRatio.median)}`)} |`,
    cpuGoal('checkout', [...run.checkout, run.checkoutHalf], goals.checkoutCpuMs, verdict),
    cpuGoal('webhook', [...run.webhook, run.webhookHalf], goals.webhookCpuMs, verdict),
    halfPeakP99Goal('checkout', run.checkoutHalf, run.sqlCheckoutHalf, verdict),
    halfPeakP99Goal('webhook', run.webhookHalf, run.sqlWebhookHalf, verdict),
    `| service RSS at half the peak | ${n0(halfRssMax)} MiB | ≤ ${goals.rssMiB} MiB | ${verdict(halfRssMax <= goals.rssMiB, `RSS ${n0(halfRssMax)} MiB`)} |`,
    `| embedded simulator / own process (checkout, the peaks' median) | ${ratio(embeddedRatio)} | ≥ ${goals.embeddedRatio} | ${verdict(embeddedRatio >= goals.embeddedRatio, `embedded simulator at ${ratio(embeddedRatio)}`)} |`,
  ];
  if (run.soak) {
    const s = run.soak;
    const growth = Number.isNaN(s.growthMiBPer10Min)
      ? 'not judged: shorter than 2 minutes'
      : verdict(s.growthMiBPer10Min <= goals.soakGrowthMiBPer10Min, `soak RSS growth ${n1(s.growthMiBPer10Min)} MiB per 10 min`);
    lines.push(
      `| soak ${n1(s.seconds / 60)} min (${s.rounds} rounds): RSS growth per 10 min (least squares, after the first minute) | ${n1(s.growthMiBPer10Min)} MiB (${n0(s.startMiB)} → ${n0(s.endMiB)}, max ${n0(s.maxMiB)}) | ≤ ${goals.soakGrowthMiBPer10Min} MiB | ${growth} |`,
      `| soak: RSS max | ${n0(s.maxMiB)} MiB | ≤ ${goals.rssMiB} MiB | ${verdict(s.maxMiB <= goals.rssMiB, `soak RSS max ${n0(s.maxMiB)} MiB`)} |`,
    );
  } else {
    lines.push('| soak (`--soak 600`) | not run | | |');
  }
  if (run.cdc) lines.push(...cdcLines(run.cdc, verdict));
  else lines.push('| CDC leg (`--cdc`) | not run | | |');
  return { text: `${lines.join('\n')}\n`, missed };
}

function row(name: string, leg: HttpLeg): string {
  return `| ${name} | ${n0(leg.perSecond)} | ${latency(leg)} | ${n2(leg.cpuMsPerRequest)} | ${n0(leg.rssMaxMiB)} | ${leg.autovacuumPasses} |`;
}

const optional = (v: number | undefined) => (v === undefined ? 'not measured' : n2(v));

function cpuRow(name: string, leg: Leg): string {
  const other = leg.otherCpuMsPerRequest;
  const sum = leg.cpuMsPerRequest + Object.values(other).reduce((a, b) => a + b, 0);
  return `| ${name} | ${n2(leg.cpuMsPerRequest)} | ${optional(other.simulator)} | ${optional(other.PostgreSQL)} | ${optional(other['load generator'])} | ${n2(sum)} |`;
}

/** The rows of SQL 0, peak 1, SQL 1, peak 2, …, SQL n, in the order they ran. */
function alternating<S, H>(sql: readonly S[], http: readonly H[], sqlLine: (s: S, i: number) => string, httpLine: (h: H, i: number) => string): string[] {
  return sql.flatMap((s, i) => [sqlLine(s, i), ...(i < http.length ? [httpLine(http[i]!, i)] : [])]);
}

/** The median, then each peak's ratio in order. */
const ratioCell = (r: { ratios: number[]; median: number }) => `${ratio(r.median)} (${r.ratios.map(ratio).join(', ')})`;

function sqlCpuRow(name: string, r: SqlLeg): string {
  return `| ${name} | | | ${optional(r.postgresCpuMsPerTransaction)} | | |`;
}

function sqlRow(name: string, r: SqlLeg): string {
  return `| ${name} | ${n0(r.perSecond)} | ${latency(r)} | | | ${r.autovacuumPasses} |`;
}

/** Judged on the HTTP leg alone (issue 12's goal); the SQL at the same rate shows the database's share. */
function halfPeakP99Goal(path: string, http: HttpLeg, sql: SqlLeg, verdict: (ok: boolean, what: string) => string): string {
  const measured = `${n1(http.p99)} ms (the SQL alone at that rate: ${n1(sql.p99)} ms)`;
  return `| p99 at half the peak, ${path} | ${measured} | ≤ ${goals.p99Ms} ms | ${verdict(http.p99 <= goals.p99Ms, `${path} p99 ${n1(http.p99)} ms at half the peak`)} |`;
}

function cpuGoal(path: string, legs: Leg[], goal: number, verdict: (ok: boolean, what: string) => string): string {
  const worst = Math.max(...legs.map((l) => l.cpuMsPerRequest));
  return `| service CPU per ${path} (worst of the peaks and half) | ${n2(worst)} ms | ≤ ${goal} ms | ${verdict(worst <= goal, `${path} CPU ${n2(worst)} ms`)} |`;
}

function cdcLines(cdc: CdcLeg, verdict: (ok: boolean, what: string) => string): string[] {
  const lines = cdc.rates.map((r) => {
    const goal = r.rate === goals.cdcRate;
    const text = `${n1(r.p50)} / ${n1(r.p99)} ms (${n0(r.achieved)}/s sent)`;
    return goal
      ? `| commit → Kafka consumer at ${r.rate}/s, p50 / p99 | ${text} | p99 ≤ ${goals.cdcP99Ms} ms | ${verdict(r.p99 <= goals.cdcP99Ms, `CDC p99 ${n1(r.p99)} ms at ${r.rate}/s`)} |`
      : `| commit → Kafka consumer at ${r.rate}/s, p50 / p99 | ${text} | | |`;
  });
  const w = cdc.warmUp;
  const seconds = (v: number | null) => (v === null ? 'never' : `${n1(v)} s`);
  const names = [...new Set(cdc.jvmVariants.map((v) => v.name))];
  return [
    ...lines,
    `| warm-up at ${w.rate}/s: Connect start → connector RUNNING → p99 under ${goals.cdcP99Ms} ms for 5 s | ${n1(w.runningSeconds)} s → ${seconds(w.underGoalSeconds)} | reported | |`,
    `| backlog of ${cdc.backlog.events} drained (from connector RUNNING; RUNNING ${n1(cdc.backlog.runningSeconds)} s after start) | ${n0(cdc.backlog.perSecond)}/s | ≥ ${goals.backlogDrainPerSecond}/s | ${verdict(cdc.backlog.perSecond >= goals.backlogDrainPerSecond, `backlog drained at ${n0(cdc.backlog.perSecond)}/s`)} |`,
    '',
    `Kafka Connect's warm-up by JVM options (Java ${javaVersion()}), two rounds alternating: seconds from Connect's start to connector RUNNING → to p99 under ${goals.cdcP99Ms} ms.`,
    '',
    '| JVM options | round 1 | round 2 |',
    '| --- | ---: | ---: |',
    ...names.map((name) => {
      const runs = cdc.jvmVariants.filter((v) => v.name === name);
      return `| ${name} (\`${runs[0]!.options || 'none'}\`) | ${runs.map((v) => `${n1(v.runningSeconds)} → ${seconds(v.underGoalSeconds)}`).join(' | ')} |`;
    }),
  ];
}

function javaVersion(): string {
  const out = spawnSync('java', ['-version'], { encoding: 'utf8' }).stderr ?? '';
  return /version "([^"]+)"/.exec(out)?.[1] ?? 'unknown';
}
