import { afterEach, describe, expect, it } from 'vitest';
import { createTrailingThrottle, type TrailingThrottle } from '../../../src/slack/trailing-throttle.js';

describe('the trailing throttle of the spike rule', () => {
  let throttle: TrailingThrottle<string> | undefined;
  afterEach(() => throttle?.stop());

  const waitUntil = async (check: () => boolean) => {
    const deadline = Date.now() + 2_000;
    while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  };

  it('runs at most once per window per id, and runs the last touch of a burst once the window has passed', async () => {
    let now = 0;
    const runs: Array<[string, string, number]> = [];
    throttle = createTrailingThrottle<string>({
      everyMs: 30_000,
      sweepMs: 5,
      clock: () => now,
      run: (id, payload, at) => runs.push([id, payload, at]),
    });
    throttle.touch('loop', 'first');
    throttle.touch('loop', 'second');
    throttle.touch('other', 'x');
    now = 10_000;
    throttle.touch('loop', 'third');
    expect(runs).toEqual([
      ['loop', 'first', 0],
      ['other', 'x', 0],
    ]);
    await new Promise((r) => setTimeout(r, 30));
    expect(runs).toHaveLength(2); // the window has not passed yet
    // No further touch: the sweep runs the waiting one when the window is over.
    now = 30_000;
    await waitUntil(() => runs.length === 3);
    expect(runs[2]).toEqual(['loop', 'third', 30_000]);
    now = 45_000;
    throttle.touch('loop', 'fourth');
    await new Promise((r) => setTimeout(r, 30));
    expect(runs).toHaveLength(3);
  });
});
