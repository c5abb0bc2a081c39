/**
 * The simulator's "now": the real time plus an offset that only grows. Tests move it forward to
 * cross Stripe's 24-hour idempotency window or a job's age threshold without waiting. Object
 * `created` times, event times and idempotency expiry follow it; webhook signatures do not (the
 * receiver checks their timestamp against its own clock, within 300 s by default).
 */
export class SimulatedClock {
  private offset: number;

  constructor(offsetMs = 0) {
    this.offset = offsetMs;
  }

  nowMs(): number {
    return Date.now() + this.offset;
  }

  nowSeconds(): number {
    return Math.floor(this.nowMs() / 1000);
  }

  get offsetMs(): number {
    return this.offset;
  }

  /** Moves time forward; going back would break ordering (newest-first lists, key expiry). */
  advance(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError('the clock only moves forward: seconds must be a number >= 0');
    this.offset += Math.round(seconds * 1000);
  }

  /** The offset a previous run reached (from its journal), so time never goes back across restarts. */
  restore(offsetMs: number): void {
    this.offset = Math.max(this.offset, offsetMs);
  }
}
