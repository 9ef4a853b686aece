/** One finding of `tollgate insights` (docs/insights.md): the JSON shape, field for field. */
export interface Finding {
  key: string;
  kind: FindingKind;
  /** The spend the finding covers in the period. */
  usd: number;
  /** usd as a part of the key's spend in the period (0..1). */
  share: number;
  /** The requests involved. */
  count: number;
  /** One sentence with the numbers. */
  detail: string;
  /** The keys.yaml change or client setting that would cut it. */
  suggestion: string;
}

export const FINDING_KINDS = [
  'long_context',
  'retries',
  'loop',
  'verbose_output',
  'off_hours',
  'expensive_model',
  'cache_unused',
  'shared_key',
  'no_limit',
] as const;

export type FindingKind = (typeof FINDING_KINDS)[number];

/** A finding before the period's totals are known: the rules say what, compute adds the share. */
export type Draft = Omit<Finding, 'share'>;
