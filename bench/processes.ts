// The processes a benchmark runs: the service as `npm start` runs it (package.json's start script) and the
// Stripe simulator as `npm run stripe-simulator` runs it, each in its own process, and what the
// kernel says each costs (/proc/<pid>/stat and /proc/<pid>/status, proc(5)).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitUntil } from '../test/support/wait.ts';

const root = new URL('..', import.meta.url).pathname;

export type BenchProcess = { pid: number; url: string; log: string; stop(): Promise<void> };

/** The fields of /proc/<pid>/stat from field 3 on (proc(5)); the command name may hold spaces and ')'. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * utime + stime of the process (all its threads), in ms: proc(5) fields 14 and 15, in clock ticks;
 * with `children`, also what its exited children spent (cutime + cstime, fields 16 and 17).
 */
export function cpuMs(pid: number, children = false): number {
  const f = statFields(pid).map(Number);
  const ticks = f[11]! + f[12]! + (children ? f[13]! + f[14]! : 0);
  return (ticks * 1000) / clockTicksPerSecond;
}

/**
 * CPU of a whole PostgreSQL server (ms): the postmaster, its live children (backends, WAL writer,
 * checkpointer…) and, through the postmaster's cutime/cstime, the backends that have exited.
 */
export function postgresCpuMs(postmasterPid: number): number {
  let total = cpuMs(postmasterPid, true);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(Number(entry))[1]) === postmasterPid) total += cpuMs(Number(entry));
    } catch {
      // exited meanwhile: its time is now in the postmaster's cutime
    }
  }
  return total;
}

/** Resident memory (VmRSS) in MiB. */
export function rssMiB(pid: number): number {
  const found = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!found) throw new Error(`no VmRSS for process ${pid}`);
  return Number(found[1]) / 1024;
}

// USER_HZ is 100 on every Linux architecture Node supports (proc(5): sysconf(_SC_CLK_TCK)); `getconf`
// confirms it where present.
export const clockTicksPerSecond = 100;

/** Samples the RSS of `pid` every `everyMs` until stop() (the samples with their times, s since start) or cancel(). */
export function sampleRss(pid: number, everyMs = 500): { stop(): Array<{ at: number; mib: number }>; cancel(): void } {
  const started = performance.now();
  const samples: Array<{ at: number; mib: number }> = [];
  const take = () => samples.push({ at: (performance.now() - started) / 1000, mib: rssMiB(pid) });
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
    cancel: () => clearInterval(timer),
  };
}

function startNode(script: string, env: Record<string, string>, logName: string, logDir: string): { child: ChildProcess; log: string } {
  return startLogged(process.execPath, [join(root, script)], env, logName, logDir);
}

// Its own process with only the variables it is given (plus PATH), logging to a file as a container
// runtime would collect it: the log lines cost the service what they cost in production.
function startLogged(
  command: string, args: string[], env: Record<string, string>, logName: string, logDir: string, options: { group?: boolean } = {},
): { child: ChildProcess; log: string } {
  const log = join(logDir, `${logName}.log`);
  const out = openSync(log, 'a');
  const child = spawn(command, args, { cwd: root, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', out, out], detached: options.group ?? false });
  closeSync(out);
  return { child, log };
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function waitForHttp(child: ChildProcess, url: string, log: string, what: string): Promise<void> {
  await waitUntil(`${what} answers on ${url}`, async () => {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}; its log: ${log}\n${tail(log)}`);
    return fetch(url).then((r) => r.ok, () => false);
  }, 60_000, 100);
}

export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** `npm run stripe-simulator` on a free port, without a state file and without a webhook endpoint. */
export async function startSimulatorProcess(logDir: string): Promise<BenchProcess> {
  const port = await freePort();
  const { child, log } = startNode('packages/stripe-simulator/src/cli.ts', { STRIPE_SIMULATOR_PORT: String(port), LOG_LEVEL: 'warn' }, 'stripe-simulator', logDir);
  const url = `http://127.0.0.1:${port}`;
  const stop = stopper(child);
  await waitForHttp(child, `${url}/_simulator`, log, 'the Stripe simulator').catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { pid: child.pid!, url, log, stop };
}

/** package.json's start script: what `npm start` (and docker-compose) run. */
export const startScript = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;

/**
 * The service exactly as `npm start` runs it (its script through sh, as npm runs scripts, with
 * node_modules/.bin first on PATH) on a free port with `env` (DATABASE_URL, the Stripe variables);
 * ready once /readyz says so. `pid` is the Node process itself, not sh. LOG_LEVEL stays the
 * production default (info).
 */
export async function startServiceProcess(env: Record<string, string>, logDir: string, logName = 'service'): Promise<BenchProcess> {
  const port = await freePort();
  const { child, log } = startLogged('sh', ['-c', startScript], {
    PORT: String(port), ...env, PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
  }, logName, logDir, { group: true });
  const url = `http://127.0.0.1:${port}`;
  // sh and the service are a process group of their own: stopping signals both, whichever runs.
  const stop = async () => {
    const pids = [child.pid!, ...childrenOf(child.pid!)];
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
    await waitUntil('the service stopped', () => pids.every((pid) => !existsSync(`/proc/${pid}`) || zombie(pid)), 30_000, 50);
  };
  try {
    await waitForHttp(child, `${url}/readyz`, log, 'the service');
    return { pid: nodeProcessOf(child.pid!), url, log, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The children of a live process; none once it is gone (a service that failed to start). */
const childrenOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

const zombie = (pid: number) => {
  try {
    return statFields(pid)[0] === 'Z';
  } catch {
    return true;
  }
};

/** sh may exec the script's last command itself or run it as its child: the process running src/main.ts. */
function nodeProcessOf(shPid: number): number {
  const runsMain = (pid: number) => {
    const [command = '', ...args] = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return /(^|\/)node$/.test(command) && args.includes('src/main.ts');
  };
  if (runsMain(shPid)) return shPid;
  const found = childrenOf(shPid).find(runsMain);
  if (found === undefined) throw new Error(`the start script (${startScript}) runs no src/main.ts under process ${shPid}`);
  return found;
}
