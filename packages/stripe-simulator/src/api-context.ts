import type { RequestInfo } from './events.ts';
import type { Store } from './store.ts';
import { invalidParam } from './errors.ts';
import { optionalInteger, optionalString, type Params } from './params.ts';

/** What an endpoint handler gets: the state, the request it serves, the time, and ways to raise events. */
export interface ApiContext {
  store: Store;
  request: RequestInfo;
  /** The simulator's origin as the client reached it (http://host:port): pages it links to are served there. */
  origin: string;
  /** The simulated clock, in seconds (object and event `created` times). */
  now(): number;
  /** Raises an event with a copy of `object` as it is now; `*.updated` events pass the old values of what changed. */
  emit(type: string, object: object, previousAttributes?: Record<string, unknown>): void;
  /** What Stripe does "some time later": runs once this change is saved and answered, as a change of its own. */
  later(task: (ctx: ApiContext) => void): void;
}

export interface ApiResult {
  status: number;
  body: unknown;
}

export function ok(body: unknown): ApiResult {
  return { status: 200, body };
}

/** Stripe's cursor pagination (`limit`, `starting_after`, `ending_before`) over newest-first items. */
export function paginate<T extends { id: string }>(items: T[], params: Params, url: string): ApiResult {
  const limit = optionalInteger(params, 'limit') ?? 10;
  if (limit < 1 || limit > 100) throw invalidParam('limit', 'Invalid limit: must be between 1 and 100');
  const startingAfter = optionalString(params, 'starting_after');
  const endingBefore = optionalString(params, 'ending_before');
  let window = items;
  if (startingAfter !== undefined) {
    const index = items.findIndex((item) => item.id === startingAfter);
    if (index < 0) throw invalidParam('starting_after', `No such object: '${startingAfter}'`, 'resource_missing');
    window = items.slice(index + 1);
  } else if (endingBefore !== undefined) {
    const index = items.findIndex((item) => item.id === endingBefore);
    if (index < 0) throw invalidParam('ending_before', `No such object: '${endingBefore}'`, 'resource_missing');
    window = items.slice(Math.max(0, index - limit), index);
    return ok({ object: 'list', data: window, has_more: index - limit > 0, url });
  }
  return ok({ object: 'list', data: window.slice(0, limit), has_more: window.length > limit, url });
}
