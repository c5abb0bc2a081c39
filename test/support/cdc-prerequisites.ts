// The Kafka/Debezium tests run Java processes, and fetch their jars with Maven the first time
// (debezium/jars.ts). Without them the tests fail with one line saying what to install, rather than
// a spawn error deep in the runner (issue 11 item 1).
import { spawnSync } from 'node:child_process';
import { jarsPresent } from '../../debezium/jars.ts';
import type { CdcSettings } from '../../debezium/settings.ts';

const JAVA_MAJOR = 17;

/** What is missing for the local CDC stack, as one line; undefined when nothing is. */
export function cdcPrerequisiteProblem(s: CdcSettings, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const java = spawnSync('java', ['-version'], { env, encoding: 'utf8' });
  if (java.error) {
    return `The Kafka/Debezium tests need Java ${JAVA_MAJOR} or newer, and "java" is not on PATH: install it (e.g. apt-get install openjdk-${JAVA_MAJOR}-jdk-headless).`;
  }
  // `java -version` writes e.g. openjdk version "17.0.15" (or "1.8.0_392" before Java 9) to stderr.
  const version = /version "([^"]+)"/.exec(`${java.stderr}${java.stdout}`)?.[1] ?? 'unknown';
  const major = Number(/^(?:1\.)?(\d+)/.exec(version)?.[1]);
  if (!(major >= JAVA_MAJOR)) {
    return `The Kafka/Debezium tests need Java ${JAVA_MAJOR} or newer, and "java" is version ${version}: install Java ${JAVA_MAJOR} (e.g. apt-get install openjdk-${JAVA_MAJOR}-jdk-headless).`;
  }
  if (!jarsPresent(s) && spawnSync('mvn', ['-v'], { env, stdio: 'ignore' }).error) {
    return `The Kafka/Debezium tests fetch Kafka, Kafka Connect and Debezium with Maven once (into ${s.jarsDir}), and "mvn" is not on PATH: install Maven 3.8+ (e.g. apt-get install maven).`;
  }
  return undefined;
}

/** Throws the one line of cdcPrerequisiteProblem, without a stack trace that would bury it. */
export function requireCdcPrerequisites(s: CdcSettings): void {
  const problem = cdcPrerequisiteProblem(s);
  if (problem) throw Object.assign(new Error(problem), { stack: problem });
}
