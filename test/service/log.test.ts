// The service's logger (src/log.ts) as a process uses it: JSON lines on stdout, secrets masked, and
// each line written before the call returns, so that the lines before a crash are not lost with it.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';

const logModule = new URL('../../src/log.ts', import.meta.url).href;

/** Runs `body` in a fresh Node with `log` = createLogger('info'); its stdout and how it ended. */
function runWithLogger(body: string) {
  const script = `import { createLogger } from ${JSON.stringify(logModule)}; const log = createLogger('info'); ${body}`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  return { lines: run.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>), signal: run.signal };
}

describe('the logger', () => {
  it('has written a line by the time the call returns: a process killed right after still shows it', () => {
    const { lines, signal } = runWithLogger(`for (let i = 0; i < 50; i++) log.info({ line: i }, 'before the crash'); process.kill(process.pid, 'SIGKILL');`);

    expect(signal).toBe('SIGKILL');
    expect(lines.map((line) => line.line)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(lines[49]).toMatchObject({ msg: 'before the crash', service: 'checkout-service', level: 30 });
  });

  it('masks client secrets and configured secrets wherever they are logged', () => {
    const { lines } = runWithLogger(`log.info({ clientSecret: 'pi_1_secret_a', order: { client_secret: 'pi_2_secret_b' }, config: { STRIPE_SECRET_KEY: 'sk_test_c' } }, 'x');`);

    expect(JSON.stringify(lines)).not.toMatch(/secret_a|secret_b|sk_test_c/);
    expect(lines[0]).toMatchObject({ clientSecret: '[redacted]', order: { client_secret: '[redacted]' }, config: { STRIPE_SECRET_KEY: '[redacted]' } });
  });
});
