// The Java processes of the local stack: started detached (they outlive `cdc.ts up`), output in
// .cdc/logs/<name>.log, PID in .cdc/<name>.pid; stopped by that PID only.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { classpath } from './jars.ts';
import type { CdcSettings } from './settings.ts';

export type ProcessName = 'kafka' | 'connect';

export interface JavaCommand {
  mainClass: string;
  args: string[];
  env?: Record<string, string>;
  heap?: string;
  /** More JVM options, before the main class (e.g. CDC_CONNECT_JVM_OPTIONS). */
  jvmOptions?: string[];
}

export const logFile = (s: CdcSettings, name: string): string => join(s.logsDir, `${name}.log`);
const pidFile = (s: CdcSettings, name: ProcessName): string => join(s.stateDir, `${name}.pid`);

function javaArgs(s: CdcSettings, cmd: JavaCommand): string[] {
  return [
    `-Xmx${cmd.heap ?? '512m'}`,
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    // Kafka 4 logs through log4j2; its own default config is YAML in the distribution's config/.
    `-Dlog4j2.configurationFile=${join(s.debeziumDir, 'log4j2.properties')}`,
    ...(cmd.jvmOptions ?? []),
    '-cp', classpath(s),
    cmd.mainClass,
    ...cmd.args,
  ];
}

/** Runs a short-lived Java tool in the foreground; its output is appended to the log `name`. */
export async function runJava(s: CdcSettings, name: string, cmd: JavaCommand): Promise<void> {
  mkdirSync(s.logsDir, { recursive: true });
  const out = openSync(logFile(s, name), 'a');
  try {
    const code = await new Promise<number>((resolvePromise, reject) => {
      const child = spawn('java', javaArgs(s, cmd), {
        stdio: ['ignore', out, out],
        env: { ...process.env, ...cmd.env },
      });
      child.on('error', (err) => reject(new Error(`cannot run "java": ${err.message} (Java 17 needed)`)));
      child.on('exit', (exitCode) => resolvePromise(exitCode ?? 1));
    });
    if (code !== 0) throw new Error(`${cmd.mainClass} failed (exit ${code}); see ${logFile(s, name)}`);
  } finally {
    closeSync(out);
  }
}

/** Starts a long-running Java process detached from this one and records its PID. */
export function startJava(s: CdcSettings, name: ProcessName, cmd: JavaCommand): number {
  mkdirSync(s.logsDir, { recursive: true });
  const out = openSync(logFile(s, name), 'a');
  writeFileSync(out, `\n===== ${new Date().toISOString()} starting ${cmd.mainClass} =====\n`);
  const child = spawn('java', javaArgs(s, cmd), {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, ...cmd.env },
  });
  closeSync(out);
  if (child.pid === undefined) throw new Error(`cannot start "java" for ${name} (Java 17 needed)`);
  child.unref();
  writeFileSync(pidFile(s, name), `${child.pid}\n`);
  return child.pid;
}

/** The recorded PID if that process is alive and still ours (a PID may be reused after a crash). */
export function runningPid(s: CdcSettings, name: ProcessName, mainClass: string): number | undefined {
  const file = pidFile(s, name);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  const cmdline = `/proc/${pid}/cmdline`;
  if (existsSync(cmdline) && !readFileSync(cmdline, 'utf8').includes(mainClass)) return undefined;
  return pid;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A killed child of this very process stays a zombie until reaped; it is not running.
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return true;
  const text = readFileSync(stat, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3) !== 'Z';
}

export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(100);
  }
  return !isAlive(pid);
}

/**
 * Sends `signal` (SIGTERM: a clean shutdown; SIGKILL: a crash, for tests) and waits for the exit;
 * a process that ignores SIGTERM for `timeoutMs` is killed.
 */
export async function stopProcess(
  s: CdcSettings,
  name: ProcessName,
  mainClass: string,
  signal: NodeJS.Signals = 'SIGTERM',
  timeoutMs = 30_000,
): Promise<boolean> {
  const pid = runningPid(s, name, mainClass);
  if (pid !== undefined) {
    process.kill(pid, signal);
    if (!(await waitForExit(pid, timeoutMs)) && signal !== 'SIGKILL') {
      process.kill(pid, 'SIGKILL');
      await waitForExit(pid, 10_000);
    }
  }
  rmSync(pidFile(s, name), { force: true });
  return pid !== undefined;
}

/** The last lines of a log, for error messages. */
export function logTail(s: CdcSettings, name: string, lines = 15): string {
  const file = logFile(s, name);
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}
