import type { BilledModel } from './price-report.js';
import { type BillRow, type MeteredModel, NO_TOKENS, type TokenCounts, type Verdict } from './types.js';

/**
 * The verdict of one upstream, model and UTC day (docs/bill-check.md#verdicts), a pure function
 * of what tollgate metered and what the provider reported:
 *
 * - the provider's tokens, at tollgate's prices, against tollgate's metered dollars: within 1% or
 *   $0.01 (whichever is larger; requests in flight at midnight may fall on either side) is a
 *   match, more at the provider is `unmetered`, more at tollgate `overmetered`;
 * - then, where the cost report was read, the provider's dollars against tollgate's: tokens that
 *   match but dollars more than 1% (and $0.01) apart are `mispriced`.
 *
 * Media reported in units (images, characters, seconds) are compared by request count, the one
 * measure both sides share.
 */

export const RELATIVE_TOLERANCE = 0.01;
export const ABSOLUTE_TOLERANCE_USD = 0.01;

const round6 = (n: number) => Math.round(n * 1e6) / 1e6;
const usd = (n: number) => `$${n.toFixed(n !== 0 && Math.abs(n) < 0.01 ? 4 : 2)}`;

export function withinTolerance(a: number, b: number): boolean {
  return (
    Math.abs(a - b) <=
    Math.max(ABSOLUTE_TOLERANCE_USD, RELATIVE_TOLERANCE * Math.max(Math.abs(a), Math.abs(b)))
  );
}

export function meteredTokens(m: MeteredModel | undefined): TokenCounts {
  if (!m) return NO_TOKENS;
  const cached = Math.min(m.cachedTokens, m.inputTokens);
  const write = Math.min(m.cacheWriteTokens, m.inputTokens - cached);
  return {
    input: m.inputTokens - cached - write,
    cached_input: cached,
    cache_write: write,
    output: m.outputTokens,
  };
}

const tokenTotal = (t: TokenCounts) => t.input + t.cached_input + t.cache_write + t.output;

/** The provider's dollars for the key: its own (OpenAI), or its share of its workspace's by priced tokens. */
function billedDollars(b: BilledModel): number | undefined {
  if (b.keyCostUsd !== undefined) return b.keyCostUsd;
  if (b.scopeCostUsd === undefined) return undefined;
  if (b.scopePricedUsd <= 0) return b.pricedUsd === undefined ? undefined : b.scopeCostUsd;
  return b.scopeCostUsd * ((b.pricedUsd ?? 0) / b.scopePricedUsd);
}

interface Judged {
  verdict: Verdict;
  billedUsd: number | null;
  detail: string;
}

function judge(
  metered: MeteredModel | undefined,
  billed: BilledModel | undefined,
  costsRead: boolean,
): Judged {
  const meteredUsd = metered?.costUsd ?? 0;
  const dollars = billed ? billedDollars(billed) : costsRead ? 0 : undefined;
  if (billed?.units && tokenTotal(billed.tokens) === 0) {
    const theirs = billed.requests ?? 0;
    const ours = metered?.okRequests ?? 0;
    const verdict: Verdict = theirs > ours ? 'unmetered' : 'match';
    return {
      verdict,
      billedUsd: dollars ?? null,
      detail: `the provider counted ${theirs} media request(s), tollgate ${ours}`,
    };
  }
  if (billed && billed.pricedUsd === undefined && tokenTotal(billed.tokens) > 0) {
    return {
      verdict: 'unmetered',
      billedUsd: dollars ?? null,
      detail: `the provider counted ${tokenTotal(billed.tokens)} tokens of ${billed.model} for this key, a model this upstream does not serve through tollgate`,
    };
  }
  const tokenUsd = billed?.pricedUsd ?? 0;
  if (!withinTolerance(tokenUsd, meteredUsd)) {
    const verdict: Verdict = tokenUsd > meteredUsd ? 'unmetered' : 'overmetered';
    return {
      verdict,
      billedUsd: dollars ?? tokenUsd,
      detail: `the provider's tokens come to ${usd(tokenUsd)} at tollgate's prices; tollgate metered ${usd(meteredUsd)}`,
    };
  }
  if (dollars !== undefined && !withinTolerance(dollars, meteredUsd)) {
    return {
      verdict: 'mispriced',
      billedUsd: dollars,
      detail: `tokens match, but the provider billed ${usd(dollars)} where tollgate's prices make ${usd(meteredUsd)}`,
    };
  }
  return { verdict: 'match', billedUsd: dollars ?? tokenUsd, detail: 'within 1% or $0.01' };
}

export function compareDay(
  upstream: string,
  date: string,
  metered: readonly MeteredModel[],
  billed: ReadonlyMap<string, BilledModel>,
  costsRead: boolean,
): BillRow[] {
  const byModel = new Map(metered.map((m) => [m.model, m]));
  const models = [...new Set([...byModel.keys(), ...billed.keys()])].sort();
  const rows: BillRow[] = [];
  for (const model of models) {
    const m = byModel.get(model);
    const b = billed.get(model);
    // Failed requests the provider never billed, on both sides nothing: no row to show.
    if ((m?.costUsd ?? 0) === 0 && tokenTotal(meteredTokens(m)) === 0 && !b) continue;
    const j = judge(m, b, costsRead);
    const meteredUsd = round6(m?.costUsd ?? 0);
    rows.push({
      upstream,
      date,
      model,
      metered_tokens: meteredTokens(m),
      billed_tokens: b?.tokens ?? NO_TOKENS,
      metered_usd: meteredUsd,
      billed_usd: j.billedUsd === null ? null : round6(j.billedUsd),
      delta_usd: j.billedUsd === null ? null : round6(j.billedUsd - meteredUsd),
      verdict: j.verdict,
      detail: j.detail,
    });
  }
  return rows;
}

/** The rows of a day whose report could not be read: every metered model, said plainly. */
export function unavailableDay(
  upstream: string,
  date: string,
  metered: readonly MeteredModel[],
  reason: string,
): BillRow[] {
  const models = metered.filter((m) => m.costUsd > 0 || m.requests > 0);
  const list = models.length > 0 ? models : [undefined];
  return list.map((m) => ({
    upstream,
    date,
    model: m?.model ?? '*',
    metered_tokens: meteredTokens(m),
    billed_tokens: null,
    metered_usd: round6(m?.costUsd ?? 0),
    billed_usd: null,
    delta_usd: null,
    verdict: 'unavailable',
    detail: reason,
  }));
}
