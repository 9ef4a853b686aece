import { GatewayError } from '../errors.js';

/** The gateway fails closed: without the store it cannot meter, so it forwards nothing. */
export function storeUnavailable(cause: unknown, keyName: string): GatewayError {
  return new GatewayError(
    'store_unavailable',
    `the usage store cannot be reached, so tollgate refuses the request of key '${keyName}' rather than let spend go unmetered; try again shortly.`,
    { cause },
  );
}
