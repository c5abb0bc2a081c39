import type { ParsedQs } from 'qs';
import { invalidParam, missingParam, unknownParam } from './errors.ts';

/** Parameters as `qs` parses Stripe's form encoding (`metadata[order_id]=…`, `expand[0]=…`). */
export type Params = ParsedQs;
type ParamValue = Params[string];

/** Stripe rejects parameters it does not know; so do we, naming the first offender. */
export function rejectUnknown(params: Params, allowed: readonly string[], prefix = ''): void {
  for (const key of Object.keys(params)) {
    if (!allowed.includes(key)) throw unknownParam(prefix ? `${prefix}[${key}]` : key);
  }
}

export function optionalString(params: Params, name: string, maxLength = 5000): string | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidParam(name, `Invalid string: ${name} must be a string.`);
  if (value.length > maxLength) {
    throw invalidParam(name, `Invalid string: ${name} must be at most ${maxLength} characters long.`);
  }
  return value;
}

export function requiredString(params: Params, name: string): string {
  const value = optionalString(params, name);
  if (value === undefined || value === '') throw missingParam(name);
  return value;
}

export function optionalInteger(params: Params, name: string): number | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^-?\d+$/.test(value)) {
    throw invalidParam(name, `Invalid integer: ${typeof value === 'string' ? value : name}`);
  }
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed)) throw invalidParam(name, `Invalid integer: ${value}`);
  return parsed;
}

export function optionalBoolean(params: Params, name: string, value: ParamValue = params[name]): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw invalidParam(name, `Invalid boolean: ${typeof value === 'string' ? value : name}`);
}

export function optionalEnum<T extends string>(params: Params, name: string, values: readonly T[]): T | undefined {
  const value = optionalString(params, name);
  if (value === undefined) return undefined;
  if (!(values as readonly string[]).includes(value)) {
    throw invalidParam(name, `Invalid ${name}: must be one of ${values.join(', ')}`);
  }
  return value as T;
}

export function optionalHash(params: Params, name: string): Params | undefined {
  const value = params[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw invalidParam(name, `Invalid object: ${name} must be a hash.`);
  }
  return value;
}

export function optionalStringArray(params: Params, name: string): string[] | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  // qs turns `expand[0]=a&expand[1]=b` into an array; very long lists arrive as an index object.
  const items = Array.isArray(value) ? value : typeof value === 'object' ? Object.values(value) : [value];
  return items.map((item) => {
    if (typeof item !== 'string') throw invalidParam(name, `Invalid array: ${name} must be an array of strings.`);
    return item;
  });
}

/** Stripe's metadata rules: ≤ 50 keys, key ≤ 40 chars, value ≤ 500 chars, string values. */
export function optionalMetadata(params: Params, name = 'metadata'): Record<string, string> | undefined {
  const hash = optionalHash(params, name);
  if (hash === undefined) return params[name] === '' ? {} : undefined;
  const entries = Object.entries(hash);
  if (entries.length > 50) throw invalidParam(name, 'Invalid metadata: metadata can have at most 50 keys.');
  const out: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (key.length > 40) throw invalidParam(`${name}[${key}]`, 'Invalid metadata: keys must be at most 40 characters long.');
    if (typeof value !== 'string') throw invalidParam(`${name}[${key}]`, 'Invalid metadata: values must be strings.');
    if (value.length > 500) throw invalidParam(`${name}[${key}]`, 'Invalid metadata: values must be at most 500 characters long.');
    out[key] = value;
  }
  return out;
}

/** Apply a metadata update as Stripe does: an empty value deletes the key. */
export function mergeMetadata(current: Record<string, string>, update: Record<string, string>): Record<string, string> {
  if (Object.keys(update).length === 0) return {};
  const next = { ...current };
  for (const [key, value] of Object.entries(update)) {
    if (value === '') delete next[key];
    else next[key] = value;
  }
  return next;
}
