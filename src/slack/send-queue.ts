import type { Logger } from '../log.js';

export interface SlackMessage {
  channel: string;
  text: string;
  blocks?: unknown[];
}

export interface QueuedMessage extends SlackMessage {
  /** Called once when the message is dropped for good, e.g. to release its once-only claim. */
  onGiveUp?: () => void;
}

export interface SendQueue {
  /** Returns at once; the message goes out in the background. */
  enqueue(msg: QueuedMessage): void;
  /** Resolves when nothing is queued or in flight (tests, shutdown). */
  idle(): Promise<void>;
  /** Stops sending; what is left is dropped. */
  stop(): void;
  size(): number;
}

export interface SendQueueOptions {
  send: (msg: SlackMessage) => Promise<void>;
  log: Logger;
  /** Oldest messages are dropped beyond this, so a long Slack outage cannot grow memory. */
  maxSize?: number;
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A send that neither succeeds nor fails by then counts as failed. */
  attemptTimeoutMs?: number;
}

/**
 * One message at a time to Slack, with exponential backoff on failure. Alerts are raised from the
 * request path, so nothing here may block, throw into the caller, or grow without bound.
 */
export function createSendQueue(o: SendQueueOptions): SendQueue {
  const maxSize = o.maxSize ?? 200;
  const maxAttempts = o.maxAttempts ?? 5;
  const baseDelayMs = o.baseDelayMs ?? 1_000;
  const maxDelayMs = o.maxDelayMs ?? 60_000;
  const attemptTimeoutMs = o.attemptTimeoutMs ?? 15_000;
  const queue: { msg: QueuedMessage; attempts: number }[] = [];
  let running = false;
  let stopped = false;
  let wake: { timer: ReturnType<typeof setTimeout>; resolve: () => void } | undefined;
  let waiters: (() => void)[] = [];

  const settleWaiters = () => {
    if (running || queue.length > 0) return;
    const w = waiters;
    waiters = [];
    for (const resolve of w) resolve();
  };

  const giveUp = (msg: QueuedMessage) => {
    try {
      msg.onGiveUp?.();
    } catch (err) {
      o.log.warn({ err }, 'Slack alert give-up hook failed');
    }
  };

  async function attempt(msg: SlackMessage): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer from Slack within ${attemptTimeoutMs} ms`)),
        attemptTimeoutMs,
      );
      timer.unref();
    });
    try {
      await Promise.race([o.send(msg), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function drain(): Promise<void> {
    if (running || stopped) return;
    running = true;
    try {
      while (!stopped) {
        const item = queue[0];
        if (!item) break;
        try {
          await attempt(item.msg);
          queue.shift();
        } catch (err) {
          item.attempts++;
          if (item.attempts >= maxAttempts) {
            queue.shift();
            o.log.error({ err: String(err), channel: item.msg.channel }, 'gave up posting a Slack message');
            giveUp(item.msg);
            continue;
          }
          const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** (item.attempts - 1));
          o.log.warn(
            { err: String(err), attempt: item.attempts, retryInMs: delay },
            'posting to Slack failed; will retry',
          );
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, delay);
            timer.unref();
            wake = { timer, resolve };
          });
          wake = undefined;
        }
      }
    } finally {
      running = false;
      settleWaiters();
    }
  }

  return {
    enqueue(msg) {
      if (stopped) return;
      if (queue.length >= maxSize) {
        // Drop the oldest waiting message (never the one in flight at index 0 while running).
        const dropped = queue.splice(running ? 1 : 0, 1)[0];
        o.log.warn({ queued: queue.length }, 'Slack queue is full; dropped the oldest message');
        if (dropped) giveUp(dropped.msg);
      }
      queue.push({ msg, attempts: 0 });
      void drain();
    },
    idle() {
      if (!running && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
    stop() {
      stopped = true;
      if (wake) {
        clearTimeout(wake.timer);
        wake.resolve();
      }
      queue.length = 0;
      running = false;
      settleWaiters();
    },
    size: () => queue.length,
  };
}
