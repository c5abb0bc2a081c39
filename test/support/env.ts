// An environment variable set for the tests of one describe block, and put back as it was after them.
import { afterAll, beforeAll } from '@jest/globals';

export function useEnv(name: string, value: () => string): void {
  const previous = process.env[name];
  beforeAll(() => void (process.env[name] = value()));
  afterAll(() => {
    if (previous === undefined) delete process.env[name];
    else process.env[name] = previous;
  });
}
