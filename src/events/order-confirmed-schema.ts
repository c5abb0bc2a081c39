import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/** The OrderConfirmed JSON Schema (the contract with the SAP integration layer), compiled once. */
export const orderConfirmedSchema = JSON.parse(
  readFileSync(new URL('./order-confirmed.v1.schema.json', import.meta.url), 'utf8'),
) as object;

const ajv = new Ajv2020({ allErrors: true });
addFormats.default(ajv);
const validate = ajv.compile(orderConfirmedSchema);

/** Validation errors of an OrderConfirmed value, or [] when it conforms. */
export function orderConfirmedErrors(value: unknown): string[] {
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim());
}
