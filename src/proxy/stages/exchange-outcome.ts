import type { UpstreamConfig } from '../../config/types.js';
import { GatewayError } from '../../errors.js';
import type { Metered } from '../../metering/meter.js';
import type { Outcome } from '../context.js';
import { type ForwardOutcome, maxExchangeMs } from '../forward.js';

/** A forwarded request's outcome, and the error to answer with when no response reached the client. */
export interface ExchangeOutcome extends Outcome {
  error?: GatewayError;
}

/**
 * How a forwarded exchange ended, as the record and the client see it: the upstream's own status
 * when it answered (an error status recorded as `upstream_<status>`), 499 when the client left,
 * 504 when the upstream timed out, 502 when it could not be reached or broke off. Why an exchange
 * failed goes on the request's one log line (`detail`), not a line of its own.
 */
export function exchangeOutcome(
  forwarded: Pick<ForwardOutcome, 'end' | 'upstreamStatus' | 'timedOut' | 'error'>,
  metered: Metered,
  upstream: Pick<UpstreamConfig, 'name' | 'timeoutMs'>,
  keyName: string,
): ExchangeOutcome {
  const { end } = forwarded;
  const cause = (forwarded.error as NodeJS.ErrnoException | undefined)?.code;
  let status: number;
  let errorCode: string | null;
  let error: GatewayError | undefined;
  switch (end) {
    case 'completed':
      status = forwarded.upstreamStatus ?? 502;
      errorCode = status >= 400 ? `upstream_${status}` : null;
      break;
    case 'client_gone':
      // nginx's convention for "client closed request".
      status = 499;
      errorCode = 'client_closed_request';
      break;
    case 'timeout':
      status = 504;
      errorCode = 'upstream_timeout';
      error = new GatewayError(
        'upstream_timeout',
        forwarded.timedOut === 'total'
          ? `upstream '${upstream.name}' did not finish within ${maxExchangeMs(upstream.timeoutMs)} ms, the most a request may take with its timeout_ms of ${upstream.timeoutMs} in keys.yaml; the request of key '${keyName}' was aborted.`
          : `upstream '${upstream.name}' sent nothing for ${upstream.timeoutMs} ms (its timeout_ms in keys.yaml); the request of key '${keyName}' was aborted.`,
      );
      break;
    default:
      status = 502;
      errorCode = 'upstream_error';
      error = new GatewayError(
        'upstream_error',
        `upstream '${upstream.name}' could not be reached or broke off (${cause ?? 'connection closed'}); the request of key '${keyName}' did not complete. Try again; if it persists, the gateway's owner should check the upstream.`,
        { cause: forwarded.error },
      );
  }
  const outcome: ExchangeOutcome = { status, errorCode, ...metered };
  if (end !== 'completed') outcome.detail = cause ? `${end}: ${cause}` : end;
  if (error) outcome.error = error;
  return outcome;
}
