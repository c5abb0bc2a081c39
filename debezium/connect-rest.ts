// The few calls of the Kafka Connect REST API that the runner, the test helper and
// register.ts (docker-compose) make. No npm dependencies: register.ts runs in a bare node image.
import { setTimeout as sleep } from 'node:timers/promises';

export interface ConnectorStatus {
  name: string;
  connector: { state: string; trace?: string };
  tasks: { id: number; state: string; trace?: string }[];
}

/** GET /connectors/<name>/status; undefined while Connect does not answer or knows no such connector. */
export async function connectorStatus(connectUrl: string, name: string): Promise<ConnectorStatus | undefined> {
  try {
    const res = await fetch(`${connectUrl}/connectors/${encodeURIComponent(name)}/status`, {
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) return undefined;
    return (await res.json()) as ConnectorStatus;
  } catch {
    return undefined;
  }
}

export const isRunning = (st: ConnectorStatus | undefined): boolean =>
  st?.connector.state === 'RUNNING' && st.tasks.length > 0 && st.tasks.every((t) => t.state === 'RUNNING');

/** The first FAILED part with its stack trace, if any. */
export function failure(st: ConnectorStatus | undefined): string | undefined {
  if (!st) return undefined;
  if (st.connector.state === 'FAILED') return `connector FAILED: ${st.connector.trace ?? ''}`;
  const task = st.tasks.find((t) => t.state === 'FAILED');
  return task ? `task ${task.id} FAILED: ${task.trace ?? ''}` : undefined;
}

export interface WaitOptions {
  timeoutMs: number;
  /** Where to look when it goes wrong (named in the error). */
  logHint: string;
  /** Throws to abort early, e.g. when the Connect process has died. */
  check?: () => void;
}

/** Waits until the connector and all its tasks are RUNNING; fails fast on FAILED. */
export async function waitForRunning(connectUrl: string, name: string, opts: WaitOptions): Promise<ConnectorStatus> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: ConnectorStatus | undefined;
  while (Date.now() < deadline) {
    opts.check?.();
    last = await connectorStatus(connectUrl, name);
    if (isRunning(last)) return last!;
    const failed = failure(last);
    if (failed) {
      throw new Error(`Debezium connector "${name}" ${firstLines(failed)}\nSee ${opts.logHint}`);
    }
    await sleep(250);
  }
  const seen = last ? `last status: ${JSON.stringify({ connector: last.connector.state, tasks: last.tasks.map((t) => t.state) })}` : 'Connect REST API never answered';
  throw new Error(
    `Debezium connector "${name}" was not RUNNING within ${opts.timeoutMs} ms at ${connectUrl} (${seen}).\nSee ${opts.logHint}`,
  );
}

/** Waits until the worker's REST API answers (GET /connectors). */
export async function waitForRestApi(connectUrl: string, opts: WaitOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    opts.check?.();
    try {
      const res = await fetch(`${connectUrl}/connectors`, { signal: AbortSignal.timeout(5000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`Kafka Connect at ${connectUrl} did not answer within ${opts.timeoutMs} ms.\nSee ${opts.logHint}`);
    await sleep(500);
  }
}

/**
 * PUT /connectors/<name>/config: creates the connector or updates its configuration, so it is
 * safe to run on every start (POST /connectors answers 409 once the connector exists).
 */
export async function putConnectorConfig(connectUrl: string, name: string, config: Record<string, string>): Promise<number> {
  const res = await fetch(`${connectUrl}/connectors/${encodeURIComponent(name)}/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(config),
    signal: AbortSignal.timeout(30_000),
  });
  if (!res.ok) throw new Error(`PUT ${connectUrl}/connectors/${name}/config: ${res.status} ${await res.text()}`);
  return res.status;
}

const firstLines = (text: string, n = 6): string => text.split('\n').slice(0, n).join('\n');
