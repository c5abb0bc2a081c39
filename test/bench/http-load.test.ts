// The load generator's fixed-rate mode (bench/http-load-process.ts), against a small HTTP server that
// notes when each request arrives: "half the peak" must be an even load, not the peak's bursts
// (autocannon's overallRate sends each second's quota back to back), and a stall must show in the
// latency even though no request is sent during it.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { runHttpLoad } from '../../bench/http-load.ts';
import { useEnv } from '../support/env.ts';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** Answers POST /checkout like the service (201, an order) after `delayMs(n)` for the n-th request. */
async function fakeCheckout(delayMs: (n: number) => number): Promise<{ url: string; arrivals: number[]; answeredAt: number[] }> {
  const arrivals: number[] = [];
  const answeredAt: number[] = [];
  server = createServer((request, response) => {
    const n = arrivals.push(performance.now()) - 1;
    request.resume();
    request.once('end', () => setTimeout(() => {
      response.writeHead(201, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ orderId: `order-${n}`, paymentIntentId: `pi_${n}`, amountTotal: 100 }));
      answeredAt.push(performance.now());
    }, delayMs(n)));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrivals, answeredAt };
}

describe('the load generator at a fixed rate', () => {
  it('spreads the requests evenly over each second', async () => {
    const { url, arrivals } = await fakeCheckout(() => 5);
    const result = await runHttpLoad({ kind: 'checkout', url, connections: 16, durationSeconds: 2, rate: 200 });

    expect(result.requests).toBe(400);
    expect(result.unexpected + result.errors).toBe(0);
    // 200/s is 20 per 100 ms. Sent back to back at 16 connections and 5 ms each, a second's 200
    // would arrive within ~70 ms. The bound leaves room for a generator that was kept off the CPU
    // for up to ~0.5 s and then sends what fell due meanwhile (the suite shares the machine's two
    // cores: 60 was once exceeded with 63 while the whole suite ran).
    const busiest = Math.max(...arrivals.map((t) => arrivals.filter((u) => u >= t && u < t + 100).length));
    expect(busiest).toBeLessThanOrEqual(120);
    expect(result.p50).toBeLessThan(50);
  });

  it('counts latency from when a request was due, so a stall is not hidden', async () => {
    // The 50th request takes 500 ms while the 15 other connections go on; requests due meanwhile
    // queue once all 16 are busy, and their wait counts.
    const { url } = await fakeCheckout((n) => (n >= 50 && n < 66 ? 500 : 2));
    const result = await runHttpLoad({ kind: 'checkout', url, connections: 16, durationSeconds: 2, rate: 200 });

    expect(result.requests).toBe(400);
    // Counted from the send, only the 16 stalled requests would exceed 400 ms (4 %): p95 would be
    // small. Counted from the due time, those queued behind them wait too.
    expect(result.p95).toBeGreaterThan(100);
  });
});

describe('the load generator as fast as answered (autocannon)', () => {
  // Where wrk is installed the closed-loop legs use it (test/bench/wrk-load.test.ts).
  useEnv('BENCH_LOAD_GENERATOR', () => 'autocannon');

  it('ends a counted leg at its last answer, not at autocannon\'s next whole-second tick', async () => {
    // 800 answers at 16 connections and 2 ms each take ~0.1 s on an idle machine; autocannon itself
    // calls back at its next whole-second tick. Judged against the server's own span (first
    // arrival to last answer), not a fixed bound: the suite shares the machine's two cores.
    const { url, arrivals, answeredAt } = await fakeCheckout(() => 2);
    const result = await runHttpLoad({ kind: 'checkout', url, connections: 16, amount: 800 });

    expect(result.requests).toBe(800);
    const served = (Math.max(...answeredAt) - arrivals[0]!) / 1000;
    // The leg's clock also holds autocannon's start and its connections' set-up before the first arrival.
    expect(result.seconds).toBeGreaterThanOrEqual(served - 0.05);
    expect(result.seconds).toBeLessThan(served + 0.3);
  });
});
