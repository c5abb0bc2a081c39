import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/** The JSON Schemas of the events on Kafka (the contract with the SAP integration layer), by type. */
const schemaFiles = {
  OrderConfirmed: './order-confirmed.v1.schema.json',
  OrderRefunded: './order-refunded.v1.schema.json',
} as const;
export type EventType = keyof typeof schemaFiles;
export const eventTypes = Object.keys(schemaFiles) as EventType[];

const ajv = new Ajv2020({ allErrors: true });
addFormats.default(ajv);

export const eventSchemas = Object.fromEntries(
  eventTypes.map((type) => [type, JSON.parse(readFileSync(new URL(schemaFiles[type], import.meta.url), 'utf8')) as object]),
) as Record<EventType, object>;
const validators = Object.fromEntries(eventTypes.map((type) => [type, ajv.compile(eventSchemas[type])]));

/** Validation errors of an event value against the schema of its type, or [] when it conforms. */
export function eventSchemaErrors(type: string | null, value: unknown): string[] {
  const validate = type !== null ? validators[type] : undefined;
  if (!validate) return [`unknown event type ${JSON.stringify(type)} (known: ${eventTypes.join(', ')})`];
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim());
}

export const orderConfirmedErrors = (value: unknown): string[] => eventSchemaErrors('OrderConfirmed', value);
export const orderRefundedErrors = (value: unknown): string[] => eventSchemaErrors('OrderRefunded', value);
