import type { GatewayError } from '../errors.js';
import { restateStoreFailure } from '../store/store-unavailable.js';

/**
 * The gateway fails closed: without the store it cannot meter, so it forwards nothing. Anything a
 * reserve or a slot call throws is refused this way, naming the key.
 */
export function storeUnavailable(cause: unknown, keyName: string): GatewayError {
  return restateStoreFailure(
    cause,
    `the usage store cannot be reached, so tollgate refuses the request of key '${keyName}' rather than let spend go unmetered; try again shortly.`,
  );
}
