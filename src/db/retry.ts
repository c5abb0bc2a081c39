import { isRetryableConflict } from './errors.ts';

/**
 * Runs `operation` again after a serialization failure or deadlock (40001, 40P01), with full
 * jitter so that the colliding transactions do not collide again. The one place such retries live.
 */
export async function retryOnConflict<T>(operation: () => Promise<T>, attempts = 5, baseDelayMs = 10): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= attempts || !isRetryableConflict(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * baseDelayMs * 2 ** attempt));
    }
  }
}
