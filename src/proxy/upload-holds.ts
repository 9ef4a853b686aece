import { GatewayError } from '../errors.js';

/**
 * The upload bytes the gateway holds in memory at once. A multipart upload is read whole before
 * its bound is reserved (proxy/multipart.ts), so before the key's max_parallel slot is taken:
 * without this cap one key could pin many 32 MB bodies at once. Counted per key and for the
 * process, from when an upload starts arriving until its request ends (docs/api.md#images-and-audio).
 */
export interface UploadLimits {
  perKeyBytes: number;
  totalBytes: number;
}

const MB = 1024 * 1024;
/** Two uploads of the 32 MB body limit per key; eight in all. */
export const UPLOAD_LIMITS: UploadLimits = { perKeyBytes: 64 * MB, totalBytes: 256 * MB };

/** One request's share: `add` refuses (returns the error) past a limit; `release` gives it all back. */
export interface UploadHold {
  add(bytes: number): GatewayError | undefined;
  release(): void;
}

const mb = (bytes: number) => `${Math.ceil(bytes / MB)} MB`;
const RETRY = { headers: { 'retry-after': '1', connection: 'close' } };

export function createUploadHolds(limits: UploadLimits = UPLOAD_LIMITS): { hold(key: string): UploadHold } {
  const byKey = new Map<string, number>();
  let total = 0;
  return {
    hold(key) {
      let mine = 0;
      return {
        add(bytes) {
          const held = byKey.get(key) ?? 0;
          if (held + bytes > limits.perKeyBytes) {
            return new GatewayError(
              'rate_limit_exceeded',
              `key '${key}' already has ${mb(held)} of uploads in flight; tollgate holds at most ${mb(limits.perKeyBytes)} of one key's uploads at once. Retry when one finishes.`,
              RETRY,
            );
          }
          if (total + bytes > limits.totalBytes) {
            return new GatewayError(
              'rate_limit_exceeded',
              `tollgate already holds ${mb(total)} of uploads in flight, its limit of ${mb(limits.totalBytes)} at once; retry shortly.`,
              RETRY,
            );
          }
          mine += bytes;
          total += bytes;
          byKey.set(key, held + bytes);
          return undefined;
        },
        release() {
          if (mine === 0) return;
          total -= mine;
          const left = (byKey.get(key) ?? 0) - mine;
          if (left > 0) byKey.set(key, left);
          else byKey.delete(key);
          mine = 0;
        },
      };
    },
  };
}
