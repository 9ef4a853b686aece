import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Config } from '../config/types.js';
import type { UsageRecord } from '../store/types.js';
import { BUDGET_WINDOW_NAMES, type BudgetWindowName } from '../windows/budget-windows.js';
import { createLabelPolicy } from './metric-labels.js';

/**
 * Prometheus metrics (docs/operations.md#metrics-get-metrics). Labels carry key *names*, never keys, and only
 * values the config defines (metric-labels.ts), so the series count is bounded by its size.
 */
export interface Metrics {
  registry: Registry;
  observeRequest(record: UsageRecord): void;
  /**
   * The label values /metrics may carry from now on: the config's key names, model entries and
   * groups (at start and after every reload). Until it is called, every key and model is
   * `unknown`/`other`.
   */
  retainConfig(config: Pick<Config, 'keys' | 'models' | 'groups'>): void;
  setBudgetUse(key: string, window: BudgetWindowName, ratio: number): void;
  /** The same for a group's shared pot (tollgate_group_budget_use_ratio). */
  setGroupBudgetUse(group: string, window: BudgetWindowName, ratio: number): void;
  /**
   * Drops the budget gauges of keys no longer configured, so a removed key stops showing, and
   * ignores later setBudgetUse calls for them.
   */
  retainKeys(names: ReadonlySet<string>): void;
  /** The same for groups: a removed or renamed group stops showing. */
  retainGroups(names: ReadonlySet<string>): void;
  setReload(ok: boolean, at: number, revision: string): void;
  reloadAttempt(ok: boolean): void;
}

/**
 * `processMetrics` (the server) adds prom-client's standard process_* and nodejs_* series: RSS,
 * heap, GC and event-loop lag, read when /metrics is scraped — what to watch for a gateway's
 * memory and its tail latency.
 */
export function createMetrics(options: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const { requests, spend, tokens, latency, budgetUse, groupBudgetUse, reloadOk, reloadTs, reloads, info } =
    createSeries(registry);
  const units = createUnitSeries(registry);
  const labels = createLabelPolicy();
  const gaugedKeys = new Set<string>();
  let retained: ReadonlySet<string> | undefined;
  const gaugedGroups = new Set<string>();
  let retainedGroups: ReadonlySet<string> | undefined;
  return {
    registry,
    observeRequest(r) {
      const key = labels.key(r.key);
      const model = labels.model(r.model);
      requests.inc({ key, model, status: labels.status(r.status) });
      // Counters only ever see finite numbers: prom-client throws on Infinity and NaN would stick.
      if (r.costUsd > 0 && Number.isFinite(r.costUsd)) spend.inc({ key, model }, r.costUsd);
      if (r.inputTokens > 0) tokens.inc({ key, model, direction: 'input' }, r.inputTokens);
      if (r.outputTokens > 0) tokens.inc({ key, model, direction: 'output' }, r.outputTokens);
      if (r.cachedTokens > 0) tokens.inc({ key, model, direction: 'cached' }, r.cachedTokens);
      const writes = r.cacheWriteTokens ?? 0;
      if (writes > 0) tokens.inc({ key, model, direction: 'cache_write' }, writes);
      latency.observe({ model, stream: String(r.stream) }, r.latencyMs / 1000);
      // What image and audio requests were (docs/api.md#images-and-audio); most requests have none,
      // and this runs on every one: no arrays built to find that out.
      countUnits(units, key, model, 'images', r.images);
      countUnits(units, key, model, 'audio_seconds', r.audioSeconds);
      countUnits(units, key, model, 'characters', r.characters);
    },
    retainConfig(config) {
      labels.retain(config);
      this.retainKeys(new Set(Object.keys(config.keys)));
      this.retainGroups(new Set(Object.keys(config.groups ?? {})));
    },
    setBudgetUse(key, window, ratio) {
      // A request admitted before a reload removed its key settles after it: no gauge for it.
      if (retained && !retained.has(key)) return;
      gaugedKeys.add(key);
      budgetUse.set({ key, window }, ratio);
    },
    retainKeys(names) {
      retained = names;
      for (const key of gaugedKeys) {
        if (names.has(key)) continue;
        gaugedKeys.delete(key);
        for (const window of BUDGET_WINDOW_NAMES) budgetUse.remove({ key, window });
      }
    },
    setGroupBudgetUse(group, window, ratio) {
      if (retainedGroups && !retainedGroups.has(group)) return;
      gaugedGroups.add(group);
      groupBudgetUse.set({ group, window }, ratio);
    },
    retainGroups(names) {
      retainedGroups = names;
      for (const group of gaugedGroups) {
        if (names.has(group)) continue;
        gaugedGroups.delete(group);
        for (const window of BUDGET_WINDOW_NAMES) groupBudgetUse.remove({ group, window });
      }
    },
    setReload(ok, at, revision) {
      reloadOk.set(ok ? 1 : 0);
      if (ok) {
        reloadTs.set(Math.floor(at / 1000));
        info.reset();
        info.set({ revision }, 1);
      }
    },
    reloadAttempt(ok) {
      reloads.inc({ result: ok ? 'success' : 'failure' });
    },
  };
}

/** The gateway's own series, registered on `registry`. */
function createSeries(registry: Registry) {
  const requests = new Counter({
    name: 'tollgate_requests_total',
    help: 'Requests by key, model and status.',
    labelNames: ['key', 'model', 'status'],
    registers: [registry],
  });
  const spend = new Counter({
    name: 'tollgate_spend_usd_total',
    help: 'Metered spend in USD by key and model.',
    labelNames: ['key', 'model'],
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'tollgate_tokens_total',
    help: 'Tokens by key, model and direction (input, output, cached, cache_write).',
    labelNames: ['key', 'model', 'direction'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'tollgate_request_duration_seconds',
    help: 'Request latency by model and stream flag.',
    labelNames: ['model', 'stream'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  const budgetUse = new Gauge({
    name: 'tollgate_budget_use_ratio',
    help: 'Spend divided by limit for the current window.',
    labelNames: ['key', 'window'],
    registers: [registry],
  });
  const groupBudgetUse = new Gauge({
    name: 'tollgate_group_budget_use_ratio',
    help: "A group's spend (the sum of its keys') divided by the group's limit for the current window.",
    labelNames: ['group', 'window'],
    registers: [registry],
  });
  const reloadOk = new Gauge({
    name: 'tollgate_config_last_reload_successful',
    help: '1 when the last config reload attempt succeeded, 0 when it was rejected.',
    registers: [registry],
  });
  const reloadTs = new Gauge({
    name: 'tollgate_config_last_reload_success_timestamp_seconds',
    help: 'Unix time of the last successful config load.',
    registers: [registry],
  });
  const reloads = new Counter({
    name: 'tollgate_config_reloads_total',
    help: 'Config reload attempts by result.',
    labelNames: ['result'],
    registers: [registry],
  });
  const info = new Gauge({
    name: 'tollgate_config_info',
    help: 'The config revision being served (value is always 1).',
    labelNames: ['revision'],
    registers: [registry],
  });
  return { requests, spend, tokens, latency, budgetUse, groupBudgetUse, reloadOk, reloadTs, reloads, info };
}

function countUnits(
  units: Counter<'key' | 'model' | 'unit'>,
  key: string,
  model: string,
  unit: string,
  n: number | null | undefined,
): void {
  if (typeof n === 'number' && n > 0 && Number.isFinite(n)) units.inc({ key, model, unit }, n);
}

/** Images generated, seconds of audio transcribed and characters spoken, by key and model. */
function createUnitSeries(registry: Registry) {
  return new Counter({
    name: 'tollgate_media_units_total',
    help: 'Image and audio usage by key, model and unit (images, audio_seconds, characters).',
    labelNames: ['key', 'model', 'unit'],
    registers: [registry],
  });
}
