/** One key's line of the daily digest: apart from build-digest.ts so the flags can read it without a circle. */

export const ERROR_CLASSES = ['401', '403', '404', '429', '5xx', 'other'] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

export interface DigestKeyLine {
  key: string;
  /** False for spend by a key that is no longer in keys.yaml. */
  inConfig: boolean;
  costUsd: number;
  requests: number;
  /** Requests answered with status >= 400. */
  errors: number;
  errorsByClass: Record<ErrorClass, number>;
  dailyLimitUsd: number | null;
  /** costUsd / dailyLimitUsd; null without a daily limit. */
  dailyShare: number | null;
  /** The model this key spent most on that day; null when no request named a known model. */
  topModel: string | null;
  /** What its image and audio requests were that day (docs/api.md#images-and-audio), when it made any. */
  media?: { images: number; audioSeconds: number; characters: number };
}
