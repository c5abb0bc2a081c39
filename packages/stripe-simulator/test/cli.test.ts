import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseCliConfig } from '../src/cli-config.ts';
import { stripeClientFor } from '../src/testing.ts';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

function runCli(env: Record<string, string>) {
  const child = spawn(process.execPath, [cli], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

describe('stripe simulator CLI', () => {
  it('validates the environment, naming each bad variable', () => {
    const result = parseCliConfig({ STRIPE_SIMULATOR_PORT: '70000', STRIPE_WEBHOOK_URL: 'not a url', STRIPE_WEBHOOK_SECRET: 'secret' });
    expect(result.ok).toBe(false);
    const errors = result.ok ? [] : result.errors;
    expect(errors.map((e) => e.split(':')[0])).toEqual(['STRIPE_SIMULATOR_PORT', 'STRIPE_WEBHOOK_URL', 'STRIPE_WEBHOOK_SECRET']);
    expect(parseCliConfig({})).toEqual({
      ok: true,
      config: { port: 12111, host: '127.0.0.1', webhookUrl: undefined, webhookSecret: undefined, stateFile: undefined, logLevel: 'info' },
    });
  });

  it('exits with status 2 and a message naming the variable', async () => {
    const run = runCli({ STRIPE_SIMULATOR_PORT: 'twelve' });
    expect(await run.exited).toBe(2);
    expect(run.output().stderr).toContain('STRIPE_SIMULATOR_PORT');
  });

  it('starts, prints its URL and generated secret, serves the SDK, and stops cleanly on SIGTERM', async () => {
    const run = runCli({ STRIPE_SIMULATOR_PORT: '0' });
    while (!run.output().stdout.includes('Webhook secret')) {
      if (run.child.exitCode !== null) throw new Error(`cli exited: ${run.output().stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const { stdout } = run.output();
    const port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)?.[1]);
    expect(port).toBeGreaterThan(0);
    expect(stdout).toMatch(/Webhook secret \(generated\): whsec_[A-Za-z0-9]{32}/);
    const stripe = stripeClientFor({ host: '127.0.0.1', port });
    const pi = await stripe.paymentIntents.create({ amount: 500, currency: 'nzd' });
    expect(pi.status).toBe('requires_payment_method');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });
});
