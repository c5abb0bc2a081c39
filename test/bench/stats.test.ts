// The statistics npm run bench judges goals with (bench/stats.ts): a wrong percentile or slope would
// pass or fail a goal silently.
import { describe, expect, it } from '@jest/globals';
import { bracketedRatios, median, percentile, slope } from '../../bench/stats.ts';

describe('percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);

  it('is the value at rank ceil(q·n)', () => {
    expect(percentile(hundred, 0.5)).toBe(50);
    expect(percentile(hundred, 0.95)).toBe(95);
    expect(percentile(hundred, 0.99)).toBe(99);
    expect(percentile(hundred, 1)).toBe(100);
  });

  it('of one value is that value; of none, NaN', () => {
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([], 0.5)).toBeNaN();
  });

  it('does not let one slow request out of a hundred decide the p99 of a hundred and one', () => {
    expect(percentile([...Array.from({ length: 100 }, () => 10), 1000], 0.99)).toBe(10);
    expect(percentile([...Array.from({ length: 98 }, () => 10), 1000, 1000], 0.99)).toBe(1000);
  });
});

describe('slope (least squares)', () => {
  it('of a line is its slope; of a zigzag, its trend', () => {
    expect(slope([0, 1, 2, 3].map((x) => ({ x, y: 100 + 2 * x })))).toBeCloseTo(2);
    expect(slope([{ x: 0, y: 1 }, { x: 1, y: -1 }, { x: 2, y: 1 }, { x: 3, y: -1 }].map(({ x, y }) => ({ x, y: 50 + y })))).toBeCloseTo(-0.4);
  });

  it('of a flat series is 0; with fewer than two distinct x, NaN', () => {
    expect(slope([0, 10, 20].map((x) => ({ x, y: 150 })))).toBe(0);
    expect(slope([{ x: 5, y: 1 }])).toBeNaN();
    expect(slope([{ x: 5, y: 1 }, { x: 5, y: 2 }])).toBeNaN();
  });
});

describe('median', () => {
  it('is the middle value, or the mean of the middle two; of none, NaN', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe('bracketedRatios', () => {
  it('puts each HTTP leg against the SQL legs on either side of it, and takes the median', () => {
    const { ratios, median: middle } = bracketedRatios([50, 45, 60], [100, 100, 80, 120]);
    expect(ratios).toEqual([0.5, 0.5, 0.6]);
    expect(middle).toBe(0.5);
  });

  it('is not moved by one leg run at an odd moment of the machine', () => {
    expect(bracketedRatios([50, 50, 90], [100, 100, 100, 100]).median).toBe(0.5);
  });

  it('refuses legs that do not alternate', () => {
    expect(() => bracketedRatios([50, 50], [100, 100])).toThrow('one SQL leg more');
    expect(() => bracketedRatios([], [100])).toThrow('one SQL leg more');
  });
});
