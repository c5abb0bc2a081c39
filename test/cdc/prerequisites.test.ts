// Without Java 17 or Maven the Kafka/Debezium tests fail with one line naming what to install.
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadSettings } from '../../debezium/settings.ts';
import { cdcPrerequisiteProblem } from '../support/cdc-prerequisites.ts';

let dir: string;
// A state folder without jars, so Maven would be needed.
let settings: ReturnType<typeof loadSettings>;

/** A folder for PATH holding only `commands`: name → body of a shell script standing in for it. */
async function pathWith(name: string, commands: Record<string, string>): Promise<string> {
  const bin = join(dir, name);
  await mkdir(bin);
  for (const [command, script] of Object.entries(commands)) {
    await writeFile(join(bin, command), `#!/bin/sh\n${script}\n`);
    await chmod(join(bin, command), 0o755);
  }
  return bin;
}

const java = (version: string) => `echo 'openjdk version "${version}" 2025-04-15' >&2`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'checkout-cdc-prereq-'));
  settings = loadSettings({ CDC_STATE_DIR: join(dir, 'state') }, 'postgres://u@127.0.0.1:5432/db');
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('the CDC test prerequisites', () => {
  it('name Java 17 when there is no java', async () => {
    const problem = cdcPrerequisiteProblem(settings, { PATH: await pathWith('none', {}) });
    expect(problem).toMatch(/need Java 17 or newer, and "java" is not on PATH: install it/);
    expect(problem).not.toContain('\n');
  });

  it('name Java 17 when java is older', async () => {
    const PATH = await pathWith('java11', { java: java('11.0.22') });
    expect(cdcPrerequisiteProblem(settings, { PATH })).toMatch(/need Java 17 or newer, and "java" is version 11\.0\.22/);
  });

  it('name Maven when java is there but mvn is not and the jars are missing', async () => {
    const PATH = await pathWith('java17', { java: java('17.0.15') });
    expect(cdcPrerequisiteProblem(settings, { PATH })).toMatch(/with Maven once .* "mvn" is not on PATH: install Maven 3\.8\+/);
  });

  it('are met by java 17 and mvn', async () => {
    const PATH = await pathWith('both', { java: java('17.0.15'), mvn: 'exit 0' });
    expect(cdcPrerequisiteProblem(settings, { PATH })).toBeUndefined();
  });
});
