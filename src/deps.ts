import type { Clock } from './clock.js';
import type { ConfigHolder } from './config/types.js';
import type { Logger } from './log.js';
import type { Notifier } from './notifier.js';
import type { Metrics } from './ops/metrics.js';
import type { DisableView } from './policy/disables.js';
import type { Store } from './store/types.js';

/** What the running gateway is made of; built once in server.ts and passed down. */
export interface GatewayDeps {
  config: ConfigHolder;
  store: Store;
  disables: DisableView;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  notifier: Notifier;
  /** Where upstream keys (`${OPENAI_API_KEY}`) are read from. */
  env: NodeJS.ProcessEnv;
  /** The HMAC secret of the request fingerprints, from the store; without it none are kept. */
  fingerprintSecret?: Buffer;
}
