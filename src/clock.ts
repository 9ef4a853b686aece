/** Milliseconds since the epoch. Injected everywhere logic depends on time, so tests can move it. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();
