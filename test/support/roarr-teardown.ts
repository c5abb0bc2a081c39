// slonik logs through roarr, which adds an 'error' listener to the real process.stdout when it loads
// and removes it only in its teardown. Jest loads every module anew for each test file, and on a
// 2-core machine it runs all files in its own process (one worker): each file that imported slonik
// left one more listener on the shared stdout, and the eleventh printed a MaxListenersExceededWarning.
import { afterAll } from '@jest/globals';

afterAll(() => {
  (globalThis as { ROARR?: { teardown?: () => void } }).ROARR?.teardown?.();
});
