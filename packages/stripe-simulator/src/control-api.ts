import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestLogEntry } from './api-handler.ts';
import { StripeApiError } from './errors.ts';
import type { StripeEvent } from './events.ts';
import { faultFromJson, type Faults } from './faults.ts';
import { readBody, sendJson } from './http-util.ts';
import { failRefund } from './refunds.ts';
import type { SimulatorState } from './state.ts';
import type { DeliveryOptions, WebhookDelivery } from './webhook-delivery.ts';

export interface ControlDeps {
  state: SimulatorState;
  faults: Faults;
  webhooks: WebhookDelivery;
  requestLog: RequestLogEntry[];
}

class ControlError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readBody(req);
  if (text.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through to the 400 below
  }
  throw new ControlError(400, 'body must be a JSON object');
}

function numberOrUndefined(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new ControlError(400, `${name} must be a number >= 0`);
  return value;
}

function deliveryOptions(body: Record<string, unknown>): DeliveryOptions {
  const out: DeliveryOptions = {};
  const duplicate = numberOrUndefined(body.duplicate === true ? 1 : body.duplicate === false ? 0 : body.duplicate, 'duplicate');
  const concurrent = numberOrUndefined(body.concurrent, 'concurrent');
  const delayMs = numberOrUndefined(body.delayMs, 'delayMs');
  if (duplicate !== undefined) out.duplicate = duplicate;
  if (concurrent !== undefined) out.concurrent = concurrent;
  if (delayMs !== undefined) out.delayMs = delayMs;
  return out;
}

/**
 * Out-of-process control of the simulator under /_simulator (JSON in and out, no auth: the
 * simulator binds to 127.0.0.1 by default). Routes are listed in GET /_simulator.
 */
export async function handleControlRequest(deps: ControlDeps, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const route = `${req.method ?? 'GET'} ${url.pathname.replace(/\/+$/, '')}`;
  try {
    const eventMatch = /^POST \/_simulator\/events\/(evt_[A-Za-z0-9]+)\/resend$/.exec(route);
    const faultMatch = /^DELETE \/_simulator\/faults\/(\d+)$/.exec(route);
    const refundMatch = /^POST \/_simulator\/refunds\/(re_[A-Za-z0-9]+)\/fail$/.exec(route);
    if (refundMatch) {
      const body = await readJson(req);
      if (body.failureReason !== undefined && typeof body.failureReason !== 'string') throw new ControlError(400, 'failureReason must be a string');
      const refund = deps.state.run((ctx) => failRefund(ctx, refundMatch[1]!, body.failureReason as string | undefined));
      return sendJson(res, 200, { refund });
    }
    if (eventMatch) {
      const event = deps.webhooks.events.find((e) => e.id === eventMatch[1]);
      if (!event) throw new ControlError(404, `no event ${eventMatch[1]}`);
      void deps.webhooks.send(event, deliveryOptions(await readJson(req)));
      return sendJson(res, 202, { resent: event.id });
    }
    if (faultMatch) {
      const removed = deps.faults.remove(Number(faultMatch[1]));
      return sendJson(res, removed ? 200 : 404, { removed });
    }
    switch (route) {
      case 'GET /_simulator':
        return sendJson(res, 200, { routes: CONTROL_ROUTES });
      case 'GET /_simulator/health':
        return sendJson(res, 200, { ok: true });
      case 'GET /_simulator/faults':
        return sendJson(res, 200, { faults: deps.faults.list().map(describeFault) });
      case 'POST /_simulator/faults': {
        let id: number;
        try {
          id = deps.faults.add(faultFromJson(await readJson(req)));
        } catch (error) {
          if (error instanceof ControlError) throw error;
          throw new ControlError(400, error instanceof Error ? error.message : String(error));
        }
        return sendJson(res, 201, { id });
      }
      case 'POST /_simulator/reset':
        deps.faults.clear();
        deps.webhooks.reset();
        deps.state.setSearchLag(0);
        return sendJson(res, 200, { reset: true });
      case 'GET /_simulator/clock':
        return sendJson(res, 200, clockState(deps.state));
      case 'POST /_simulator/clock/advance': {
        const seconds = numberOrUndefined((await readJson(req)).seconds, 'seconds');
        if (seconds === undefined) throw new ControlError(400, 'seconds is required');
        deps.state.advanceClock(seconds);
        return sendJson(res, 200, clockState(deps.state));
      }
      case 'GET /_simulator/search':
        return sendJson(res, 200, { lagSeconds: deps.state.store.search.lagSeconds });
      case 'POST /_simulator/search': {
        const lagSeconds = numberOrUndefined((await readJson(req)).lagSeconds, 'lagSeconds');
        if (lagSeconds === undefined) throw new ControlError(400, 'lagSeconds is required');
        deps.state.setSearchLag(lagSeconds);
        return sendJson(res, 200, { lagSeconds });
      }
      case 'DELETE /_simulator/faults':
        deps.faults.clear();
        return sendJson(res, 200, { cleared: true });
      case 'GET /_simulator/webhooks/config':
        return sendJson(res, 200, { url: deps.webhooks.webhookUrl ?? null, ...deps.webhooks.config() });
      case 'POST /_simulator/webhooks/config': {
        const body = await readJson(req);
        if (body.url !== undefined) {
          if (body.url !== null && typeof body.url !== 'string') throw new ControlError(400, 'url must be a string or null');
          deps.webhooks.setUrl(body.url ?? undefined);
        }
        if (body.paused !== undefined && typeof body.paused !== 'boolean') throw new ControlError(400, 'paused must be a boolean');
        const reorder = numberOrUndefined(body.reorder, 'reorder');
        const config = deps.webhooks.configure({
          ...deliveryOptions(body),
          ...(typeof body.paused === 'boolean' ? { paused: body.paused } : {}),
          ...(reorder !== undefined ? { reorder } : {}),
        });
        return sendJson(res, 200, { url: deps.webhooks.webhookUrl ?? null, ...config });
      }
      case 'POST /_simulator/webhooks/pause':
        deps.webhooks.pause();
        return sendJson(res, 200, deps.webhooks.config());
      case 'POST /_simulator/webhooks/resume':
        deps.webhooks.resume();
        return sendJson(res, 200, deps.webhooks.config());
      case 'POST /_simulator/webhooks/release':
        deps.webhooks.releaseHeld();
        return sendJson(res, 200, deps.webhooks.config());
      case 'POST /_simulator/webhooks/hold': {
        const body = await readJson(req);
        if (body.type !== undefined && typeof body.type !== 'string') throw new ControlError(400, 'type must be a string');
        const count = numberOrUndefined(body.count, 'count');
        deps.webhooks.hold({ ...(typeof body.type === 'string' ? { type: body.type } : {}), ...(count !== undefined ? { count } : {}) });
        return sendJson(res, 200, deps.webhooks.config());
      }
      case 'POST /_simulator/webhooks/send': {
        const body = await readJson(req);
        const event = body.event as StripeEvent | undefined;
        if (!event || typeof event !== 'object' || typeof event.id !== 'string' || typeof event.type !== 'string') {
          throw new ControlError(400, 'event must be a Stripe event object with id and type');
        }
        void deps.webhooks.send(event, deliveryOptions(body));
        return sendJson(res, 202, { sent: event.id });
      }
      case 'GET /_simulator/webhooks/deliveries':
        return sendJson(res, 200, { deliveries: deps.webhooks.deliveries });
      case 'GET /_simulator/settled':
        await deps.state.settled();
        return sendJson(res, 200, { settled: true });
      case 'GET /_simulator/webhooks/idle':
        await deps.webhooks.idle();
        return sendJson(res, 200, { idle: true });
      case 'GET /_simulator/events': {
        const type = url.searchParams.get('type');
        return sendJson(res, 200, { events: deps.webhooks.events.filter((e) => type === null || e.type === type) });
      }
      case 'GET /_simulator/requests':
        return sendJson(res, 200, { requests: deps.requestLog });
      default:
        throw new ControlError(404, `unknown control route ${route}`);
    }
  } catch (error) {
    const status = error instanceof ControlError || error instanceof StripeApiError ? error.status : 500;
    sendJson(res, status, { error: error instanceof Error ? error.message : String(error) });
  }
}

function clockState(state: SimulatorState): { now: number; offsetSeconds: number } {
  return { now: state.clock.nowSeconds(), offsetSeconds: state.clock.offsetMs / 1000 };
}

function describeFault(fault: ReturnType<Faults['list']>[number]): Record<string, unknown> {
  return {
    ...fault,
    path: fault.path instanceof RegExp ? fault.path.source : fault.path,
    remaining: Number.isFinite(fault.remaining) ? fault.remaining : 'always',
  };
}

export const CONTROL_ROUTES: readonly string[] = [
  'GET /_simulator/health',
  'GET /_simulator/faults',
  'POST /_simulator/faults {method?, path? (exact, or prefix ending in *), pathPattern? (regex), times? (number|"always"), action: "fail"|"stall"|"drop", status?, errorType?, code?, message?, shouldRetry?, ms?, when?: "before"|"after"}',
  'DELETE /_simulator/faults',
  'DELETE /_simulator/faults/:id',
  'GET /_simulator/webhooks/config',
  'POST /_simulator/webhooks/config {url?, duplicate?, concurrent?, delayMs?, reorder?, paused?}',
  'POST /_simulator/webhooks/pause | resume | release',
  'POST /_simulator/webhooks/hold {type?, count?} (hold events back until release, or until count arrived)',
  'POST /_simulator/webhooks/send {event, duplicate?, concurrent?, delayMs?}',
  'GET /_simulator/webhooks/deliveries',
  'GET /_simulator/webhooks/idle',
  'GET /_simulator/settled (what the simulator does later, e.g. a refund failing, is done and delivered)',
  'GET /_simulator/events?type=',
  'POST /_simulator/events/:id/resend {duplicate?, concurrent?, delayMs?}',
  'GET /_simulator/requests',
  'GET /_simulator/clock',
  'POST /_simulator/clock/advance {seconds}',
  'GET /_simulator/search',
  'POST /_simulator/search {lagSeconds} (search sees changes this many simulated seconds late)',
  'POST /_simulator/refunds/:id/fail {failureReason?}',
  'POST /_simulator/reset (clear faults, default webhook behaviour, no search lag)',
];
