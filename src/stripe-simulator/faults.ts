/** When a fault applies: every field given must match; `times` counts down, 'always' never does. */
interface FaultMatch {
  method?: string;
  /** A string matches the exact pathname, or a prefix when it ends with `*`; a RegExp is tested. */
  path?: string | RegExp;
  times?: number | 'always';
}

export type FaultSpec =
  | (FaultMatch & { action: 'fail'; status?: number; errorType?: string; code?: string; message?: string })
  /** Hold the request, then process it normally: Stripe being slow. */
  | (FaultMatch & { action: 'stall'; ms: number })
  /**
   * Destroy the socket without a response. 'before' (default): nothing happens at Stripe.
   * 'after': the request is processed (and its idempotent result saved), then the answer is lost.
   */
  | (FaultMatch & { action: 'drop'; when?: 'before' | 'after' });

export type ActiveFault = FaultSpec & { id: number; remaining: number; hits: number };

export class Faults {
  private readonly active: ActiveFault[] = [];
  private nextId = 1;

  add(spec: FaultSpec): number {
    const times = spec.times ?? 1;
    const remaining = times === 'always' ? Number.POSITIVE_INFINITY : times;
    if (!(remaining >= 1)) throw new Error('fault times must be a positive integer or "always"');
    if (spec.action === 'stall' && !(spec.ms >= 0)) throw new Error('stall fault needs ms >= 0');
    if (spec.action === 'fail' && spec.status !== undefined && (spec.status < 400 || spec.status > 599)) {
      throw new Error('fail fault status must be 400..599');
    }
    const id = this.nextId++;
    this.active.push({ ...spec, id, remaining, hits: 0 });
    return id;
  }

  remove(id: number): boolean {
    const index = this.active.findIndex((f) => f.id === id);
    if (index >= 0) this.active.splice(index, 1);
    return index >= 0;
  }

  clear(): void {
    this.active.length = 0;
  }

  list(): ActiveFault[] {
    return this.active.map((f) => ({ ...f }));
  }

  /** The first fault matching this request, consumed once; faults are checked in insertion order. */
  take(method: string, path: string): ActiveFault | undefined {
    const fault = this.active.find((f) => matches(f, method, path));
    if (!fault) return undefined;
    fault.hits += 1;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.remove(fault.id);
    return { ...fault };
  }
}

function matches(fault: FaultMatch, method: string, path: string): boolean {
  if (fault.method !== undefined && fault.method.toUpperCase() !== method) return false;
  if (fault.path === undefined) return true;
  if (fault.path instanceof RegExp) return fault.path.test(path);
  return fault.path.endsWith('*') ? path.startsWith(fault.path.slice(0, -1)) : path === fault.path;
}

/** Parses a fault from JSON (control API): `pathPattern` carries a regular expression as text. */
export function faultFromJson(input: unknown): FaultSpec {
  if (input === null || typeof input !== 'object') throw new Error('fault must be a JSON object');
  const raw = input as Record<string, unknown>;
  const base: FaultMatch = {};
  if (raw.method !== undefined) base.method = String(raw.method);
  if (raw.path !== undefined) base.path = String(raw.path);
  if (raw.pathPattern !== undefined) base.path = new RegExp(String(raw.pathPattern));
  if (raw.times !== undefined) base.times = raw.times === 'always' ? 'always' : Number(raw.times);
  switch (raw.action) {
    case 'fail':
      return {
        ...base, action: 'fail',
        ...(raw.status !== undefined ? { status: Number(raw.status) } : {}),
        ...(raw.errorType !== undefined ? { errorType: String(raw.errorType) } : {}),
        ...(raw.code !== undefined ? { code: String(raw.code) } : {}),
        ...(raw.message !== undefined ? { message: String(raw.message) } : {}),
      };
    case 'stall':
      return { ...base, action: 'stall', ms: Number(raw.ms) };
    case 'drop':
      return { ...base, action: 'drop', when: raw.when === 'after' ? 'after' : 'before' };
    default:
      throw new Error('fault action must be one of fail, stall, drop');
  }
}
