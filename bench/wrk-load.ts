// The closed-loop legs through wrk (https://github.com/wg/wrk) where it is installed (Debian: apt-get
// install wrk): a C load generator costs the shared machine ~0.1 ms of CPU per checkout where
// autocannon, in Node, costs ~0.3 (bench/README.md), and the service's ratio to the SQL peer counts
// every process on the machine. bench/wrk-load.lua sends the requests; this prepares them, stops a
// leg bounded by a count once every thread has its answers, and checks the answers as
// bench/http-load-process.ts does.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { CheckoutOrder, HttpLoadResult, HttpLoadSpec } from './http-load.ts';
import { Answers, checkoutBody, signedEvents } from './load-exchanges.ts';
import { clockTicksPerSecond } from './processes.ts';

const script = new URL('./wrk-load.lua', import.meta.url).pathname;
/** A leg bounded by a count that has not finished after this long has stalled. */
const BOUNDED_LEG_LIMIT_SECONDS = 600;

/** wrk on PATH, or undefined. */
export function findWrk(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    try {
      accessSync(join(dir, 'wrk'), constants.X_OK);
      return join(dir, 'wrk');
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Splits `total` requests over `threads`, as evenly as whole numbers allow. */
const split = (total: number, threads: number) => Array.from({ length: threads }, (_, i) => Math.floor(total / threads) + (i < total % threads ? 1 : 0));

export async function runWrkLoad(spec: HttpLoadSpec, wrk: string): Promise<HttpLoadResult> {
  if (spec.rate !== undefined) throw new Error('wrk drives the closed-loop legs only; a fixed rate is bench/http-load-process.ts');
  const dir = await mkdtemp(join(tmpdir(), 'bench-wrk-'));
  try {
    let quotas: number[];
    if (spec.kind === 'checkout') {
      await writeFile(join(dir, 'checkout-body.json'), checkoutBody);
      const threads = Math.min(2, spec.connections, spec.amount ?? 2);
      quotas = spec.amount === undefined ? Array<number>(threads).fill(0) : split(spec.amount, threads);
    } else {
      const orders = JSON.parse(await readFile(spec.ordersIn!, 'utf8')) as CheckoutOrder[];
      const events = (await signedEvents(orders, spec.webhookSecret!, spec.simulatorUrl!)).slice(0, spec.amount ?? orders.length);
      const threads = Math.min(2, spec.connections, events.length);
      quotas = split(events.length, threads);
      // Thread t sends events t, t + threads, …: the order of the checkout leg, as autocannon does.
      await Promise.all(quotas.map((_, t) => writeFile(
        join(dir, `events-${t}.txt`), events.filter((_, i) => i % threads === t).map((e) => `${e.signature}\t${e.body}\n`).join(''),
      )));
    }
    const bounded = quotas[0]! > 0;
    const seconds = bounded ? BOUNDED_LEG_LIMIT_SECONDS : spec.durationSeconds!;
    const out = await runWrk(wrk, [
      '-t', String(quotas.length), '-c', String(spec.connections), '-d', `${seconds}s`, '--timeout', '30s', '-s', script, spec.url,
      '--', spec.kind, dir, randomBytes(6).toString('hex'), ...quotas.map(String),
    ], bounded ? quotas.length : 0, seconds);
    const summary = JSON.parse(out.trim().split('\n').at(-1)!) as {
      answered: number; seconds: number; p50: number; p95: number; p99: number; errors: number; timeouts: number; cpuTicks: number;
    };

    const answers = new Answers(spec.kind);
    for (let t = 0; t < quotas.length; t++) {
      for (const line of (await readFile(join(dir, `answers-${t}.txt`), 'utf8')).split('\n')) {
        if (line === '') continue;
        const tab = line.indexOf('\t');
        answers.add(Number(line.slice(0, tab)), line.slice(tab + 1));
      }
    }
    const requests = Object.values(answers.statuses).reduce((a, b) => a + b, 0);
    if (requests !== summary.answered) throw new Error(`wrk counted ${summary.answered} answers, its threads wrote ${requests}`);
    if (spec.ordersOut) await writeFile(spec.ordersOut, JSON.stringify(answers.orders));
    return {
      requests, seconds: summary.seconds, perSecond: requests / summary.seconds, p50: summary.p50, p95: summary.p95, p99: summary.p99,
      statuses: answers.statuses, unexpected: answers.unexpected, errors: summary.errors, timeouts: summary.timeouts, orders: answers.orders.length,
      cpuMs: (summary.cpuTicks * 1000) / clockTicksPerSecond, generator: 'wrk',
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs wrk and returns its standard output. wrk's main thread sleeps for the whole -d whatever its
 * threads do; a leg bounded by a count ends when each of its `boundedThreads` threads has said on
 * stderr that its quota is answered, by SIGINT, which ends that sleep (sent again until wrk exits:
 * wrk ignores SIGINT until its threads have started).
 */
function runWrk(wrk: string, args: string[], boundedThreads: number, seconds: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(wrk, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let finished = 0;
    let interrupt: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      const lines = err.split('\n');
      err = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith('wrk-load: thread ')) {
          process.stderr.write(`${line}\n`);
          continue;
        }
        if (++finished === boundedThreads) {
          const stop = () => child.kill('SIGINT');
          stop();
          interrupt = setInterval(stop, 200);
        }
      }
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearInterval(interrupt);
      if (code !== 0) return reject(new Error(`wrk exited with ${code ?? signal}${err ? `: ${err}` : ''}`));
      if (finished < boundedThreads) return reject(new Error(`wrk: ${boundedThreads - finished} of ${boundedThreads} threads did not get their answers within ${seconds} s`));
      resolve(out);
    });
  });
}
