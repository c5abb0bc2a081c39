import { ok, type ApiContext, type ApiResult } from './api-context.ts';
import { invalidParam } from './errors.ts';
import type { PaymentIntent } from './objects.ts';
import { optionalInteger, optionalString, optionalStringArray, rejectUnknown, requiredString, type Params } from './params.ts';
import { newestFirst } from './store.ts';

// Stripe's search query language (docs.stripe.com/search#search-query-language), for the query
// fields of PaymentIntents (docs.stripe.com/search#query-fields-for-payment-intents): clauses
// `field:value` (exact), `field>n`, `field<n`, `field>=n`, `field<=n` (numbers), `-clause`
// (negation), `field:null`, joined by AND or by OR (not both), at most 10 clauses.

type Operator = ':' | '>' | '<' | '>=' | '<=';
interface Clause {
  negate: boolean;
  field: string;
  metadataKey?: string;
  operator: Operator;
  /** null: the query's `null` (field absent). */
  value: string | null;
}

const STRING_FIELDS = ['currency', 'customer', 'status'];
const NUMBER_FIELDS = ['amount', 'created'];
const MAX_CLAUSES = 10;

function queryError(message: string): never {
  throw invalidParam('query', message);
}

/** A small recursive-descent reader of one query string. */
class QueryReader {
  private pos = 0;
  private readonly text: string;

  constructor(text: string) {
    this.text = text;
  }

  get done(): boolean {
    this.skipSpaces();
    return this.pos >= this.text.length;
  }

  skipSpaces(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos += 1;
  }

  match(pattern: RegExp): string | undefined {
    const sticky = new RegExp(pattern.source, 'y');
    sticky.lastIndex = this.pos;
    const found = sticky.exec(this.text);
    if (!found) return undefined;
    this.pos = sticky.lastIndex;
    return found[0];
  }

  quoted(): string | undefined {
    const quote = this.text[this.pos];
    if (quote !== "'" && quote !== '"') return undefined;
    let out = '';
    for (let i = this.pos + 1; i < this.text.length; i += 1) {
      const char = this.text[i]!;
      if (char === '\\' && i + 1 < this.text.length) {
        out += this.text[i + 1];
        i += 1;
      } else if (char === quote) {
        this.pos = i + 1;
        return out;
      } else {
        out += char;
      }
    }
    return queryError(`Unterminated string starting at position ${this.pos} of the query.`);
  }

  clause(): Clause {
    this.skipSpaces();
    const negate = this.match(/-/) !== undefined;
    const field = this.match(/[a-z_]+/) ?? queryError(`Expected a field name at position ${this.pos} of the query.`);
    let metadataKey: string | undefined;
    if (field === 'metadata') {
      if (this.match(/\[/) === undefined) queryError("Search on metadata needs a key, as in metadata['order_id']:'123'.");
      metadataKey = this.quoted() ?? queryError('A metadata key must be quoted.');
      if (this.match(/\]/) === undefined) queryError("Expected ']' after the metadata key.");
    } else if (!STRING_FIELDS.includes(field) && !NUMBER_FIELDS.includes(field)) {
      queryError(`Field \`${field}\` is an unsupported search field for resource \`payment_intents\`. See https://docs.stripe.com/search#query-fields-for-payment-intents for a list of supported fields.`);
    }
    const operator = this.match(/>=|<=|:|>|</) as Operator | undefined;
    if (operator === undefined) {
      if (this.match(/~/)) queryError('Substring search (~) is not supported by this simulator.');
      queryError(`Expected ':' or a comparison after \`${field}\`.`);
    }
    const quoted = this.quoted();
    const bare = quoted === undefined ? this.match(/[^\s]+/) : undefined;
    if (quoted === undefined && bare === undefined) queryError(`Expected a value after \`${field}${operator}\`.`);
    const value = bare === 'null' ? null : (quoted ?? bare!);
    if (operator !== ':' && !NUMBER_FIELDS.includes(field)) queryError(`\`${field}\` only supports exact match (:).`);
    if (NUMBER_FIELDS.includes(field) && value !== null && !/^-?\d+$/.test(value)) queryError(`\`${field}\` takes an integer, not '${value}'.`);
    return { negate, field, ...(metadataKey !== undefined ? { metadataKey } : {}), operator, value };
  }

  parse(): { clauses: Clause[]; connective: 'AND' | 'OR' } {
    const clauses = [this.clause()];
    let connective: 'AND' | 'OR' | undefined;
    while (!this.done) {
      const word = this.match(/(AND|OR)(?=\s)/) as 'AND' | 'OR' | undefined;
      if (word === undefined) queryError(`Expected AND or OR at position ${this.pos} of the query.`);
      if (connective !== undefined && connective !== word) queryError('A query cannot combine AND and OR.');
      connective = word;
      clauses.push(this.clause());
    }
    if (clauses.length > MAX_CLAUSES) queryError(`A query can have at most ${MAX_CLAUSES} clauses.`);
    return { clauses, connective: connective ?? 'AND' };
  }
}

function fieldValue(pi: PaymentIntent, clause: Clause): string | number | null {
  if (clause.metadataKey !== undefined) return Object.hasOwn(pi.metadata, clause.metadataKey) ? pi.metadata[clause.metadataKey]! : null;
  return (pi as unknown as Record<string, string | number | null>)[clause.field] ?? null;
}

function matches(pi: PaymentIntent, clause: Clause): boolean {
  const actual = fieldValue(pi, clause);
  let result: boolean;
  if (clause.value === null) result = actual === null;
  else if (actual === null) result = false;
  else if (typeof actual === 'number') {
    const wanted = Number(clause.value);
    result = { ':': actual === wanted, '>': actual > wanted, '<': actual < wanted, '>=': actual >= wanted, '<=': actual <= wanted }[clause.operator];
  } else if (clause.metadataKey !== undefined) {
    result = actual === clause.value; // metadata values compare exactly
  } else {
    result = actual.toLowerCase() === clause.value.toLowerCase();
  }
  return clause.negate ? !result : result;
}

/** Search pages are opaque to clients; here the token carries the offset into the ordered results. */
function pageOffset(page: string | undefined): number {
  if (page === undefined) return 0;
  const decoded = /^offset:(\d+)$/.exec(Buffer.from(page, 'base64url').toString('utf8'));
  if (!decoded) throw invalidParam('page', `Invalid page: ${page}`);
  return Number(decoded[1]);
}

/** GET /v1/payment_intents/search, as `stripe.paymentIntents.search({ query })` calls it. */
export function searchPaymentIntents(ctx: ApiContext, params: Params): ApiResult {
  rejectUnknown(params, ['query', 'limit', 'page', 'expand']);
  const { clauses, connective } = new QueryReader(requiredString(params, 'query')).parse();
  const limit = optionalInteger(params, 'limit') ?? 10;
  if (limit < 1 || limit > 100) throw invalidParam('limit', 'Invalid limit: must be between 1 and 100');
  const expand = optionalStringArray(params, 'expand') ?? [];
  for (const field of expand) {
    if (field !== 'total_count') throw invalidParam('expand', `This property cannot be expanded (${field}). You may want to try expanding one of: total_count.`);
  }
  const offset = pageOffset(optionalString(params, 'page'));
  const found = newestFirst(ctx.store.search.visible(ctx.store.paymentIntents.values(), ctx.now()))
    .filter((pi) => (connective === 'AND' ? clauses.every((c) => matches(pi, c)) : clauses.some((c) => matches(pi, c))));
  const data = found.slice(offset, offset + limit).map((pi) => structuredClone(pi));
  const hasMore = found.length > offset + limit;
  return ok({
    object: 'search_result',
    data,
    has_more: hasMore,
    next_page: hasMore ? Buffer.from(`offset:${offset + limit}`).toString('base64url') : null,
    url: '/v1/payment_intents/search',
    ...(expand.includes('total_count') ? { total_count: found.length } : {}),
  });
}
