import { ok, paginate, type ApiContext, type ApiResult } from './api-context.ts';
import { resourceMissing } from './errors.ts';
import { optionalString, rejectUnknown, type Params } from './params.ts';

export function retrieveEvent(ctx: ApiContext, id: string, params: Params): ApiResult {
  rejectUnknown(params, ['expand']);
  const event = ctx.store.events.find((e) => e.id === id);
  if (!event) throw resourceMissing('event', id);
  return ok(event);
}

export function listEvents(ctx: ApiContext, params: Params): ApiResult {
  rejectUnknown(params, ['limit', 'starting_after', 'ending_before', 'type', 'types', 'created', 'delivery_success']);
  const type = optionalString(params, 'type');
  const items = [...ctx.store.events].reverse().filter((e) => type === undefined || e.type === type);
  return paginate(items, params, '/v1/events');
}
