// The small helpers every request goes through: ids (uniform, unique) and the bounded logs.
import { describe, expect, it } from '@jest/globals';
import { appendBounded } from '../src/bounded-log.ts';
import { newId, randomAlphanumeric } from '../src/ids.ts';

describe('ids', () => {
  it('are the prefix and 24 alphanumerics, every character about equally likely', () => {
    expect(newId('pi')).toMatch(/^pi_[A-Za-z0-9]{24}$/);
    const counts = new Map<string, number>();
    for (let i = 0; i < 2_000; i += 1) for (const c of randomAlphanumeric(31)) counts.set(c, (counts.get(c) ?? 0) + 1);
    // 62,000 draws: each of the 62 characters 1,000 times on average. 5 standard deviations are
    // about ±160; `byte % 62` without the rejection would give the first eight +210.
    expect(counts.size).toBe(62);
    for (const count of counts.values()) expect(Math.abs(count - 1_000)).toBeLessThan(160);
  });

  it('do not repeat across the random pool being refilled', () => {
    const ids = new Set(Array.from({ length: 5_000 }, () => newId('evt')));
    expect(ids.size).toBe(5_000);
  });
});

describe('appendBounded', () => {
  it('keeps the newest entries in order, at most max', () => {
    const log: number[] = [];
    for (let i = 1; i <= 25; i += 1) appendBounded(log, i, 10);
    expect(log).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
  });
});
