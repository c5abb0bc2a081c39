// Fetches Kafka, Kafka Connect and Debezium from Maven Central with Maven (debezium/pom.xml),
// once: the jars land in .cdc/jars with a marker holding the pom's hash, so a changed pom
// refetches and an unchanged one costs nothing.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CdcSettings } from './settings.ts';

const MARKER = '.pom-sha256';

function pomHash(s: CdcSettings): string {
  return createHash('sha256').update(readFileSync(join(s.debeziumDir, 'pom.xml'))).digest('hex');
}

export function jarsPresent(s: CdcSettings): boolean {
  const marker = join(s.jarsDir, MARKER);
  return existsSync(marker) && readFileSync(marker, 'utf8').trim() === pomHash(s);
}

/** Returns true when it had to download, false when the cache was current. */
export async function ensureJars(s: CdcSettings, log: (line: string) => void): Promise<boolean> {
  if (jarsPresent(s)) return false;
  const hash = pomHash(s);
  const tmp = `${s.jarsDir}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  log('Fetching Kafka, Kafka Connect and Debezium jars with Maven (first run only)…');
  const args = [
    '-B', '-q', '-Dstyle.color=never', '-f', join(s.debeziumDir, 'pom.xml'),
    'dependency:copy-dependencies', `-DoutputDirectory=${tmp}`, '-DincludeScope=runtime',
  ];
  const code = await new Promise<number>((resolvePromise, reject) => {
    const child = spawn('mvn', args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', (err) =>
      reject(new Error(`cannot run Maven ("mvn"): ${err.message}. Install Maven 3.8+ and Java 17.`)),
    );
    child.on('exit', (exitCode) => resolvePromise(exitCode ?? 1));
  });
  if (code !== 0) {
    throw new Error(`Maven failed (exit ${code}) fetching the jars of ${join(s.debeziumDir, 'pom.xml')}`);
  }
  writeFileSync(join(tmp, MARKER), `${hash}\n`);
  // Swap in whole, so an interrupted download never looks like a complete one.
  rmSync(s.jarsDir, { recursive: true, force: true });
  renameSync(tmp, s.jarsDir);
  return true;
}

/** Java's classpath wildcard: every jar in the folder. */
export const classpath = (s: CdcSettings): string => join(s.jarsDir, '*');
