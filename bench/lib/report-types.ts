/** The shapes of the suite's results, apart from their rendering so causes.ts and report.ts need not import each other. */
import type { Mode } from './configs.js';
import type { ReloadTimes, SlowReader } from './measure.js';

export interface Summary {
  rps: number;
  cpuUsPerRequest: number;
  /** PostgreSQL targets: the database server's CPU per request. */
  dbCpuUsPerRequest?: number;
  /** PostgreSQL targets: requests per write transaction (commit). */
  requestsPerDbWrite?: number;
  rssMb: number;
  errors: number;
}

/** Open-loop runs, keyed `json@200`, `json@2000`, `sse@200`, `sse@2000`. */
export const LATENCY_RUNS = [
  ['json', 200],
  ['json', 2000],
  ['sse', 200],
  ['sse', 2000],
] as const;
export type LatencyLabel = `${(typeof LATENCY_RUNS)[number][0]}@${(typeof LATENCY_RUNS)[number][1]}`;

export interface LatencyStats {
  p50: number;
  p99: number;
  ttfbP50: number;
}

export interface TargetResult {
  id: string;
  name: string;
  json?: Summary;
  sse?: Summary;
  /** Medians over rounds of the absolute percentiles, µs. */
  latency: Partial<Record<LatencyLabel, LatencyStats & { errors: number; sendLagP99: number }>>;
  /** Medians over rounds of (this target − direct, same round), µs. */
  added: Partial<Record<LatencyLabel, LatencyStats>>;
}

export interface Report {
  date: string;
  args: { rounds: number; seconds: number; latencySeconds: number; only: string[]; baseline?: string };
  machine: { node: string; nginx: string; wrk: string; cpus: number; cpuModel: string; loadavg: number[] };
  targets: TargetResult[];
  slowReader: SlowReader[];
  /**
   * The 10,000-key reloads, ms until /healthz served each; `gateway` is each one's own times from
   * the gateway's `config reloaded` log line, index-aligned with `runs` (absent when a build logs none).
   */
  reloadMs: { runs: number[]; median: number; max: number; gateway?: ReloadTimes[] } | null;
  /** The SQLite target's figures in the results file this run replaced, read before it was overwritten. */
  previous?: Previous;
  /** bench/upload.ts's result, when the `upload` row ran. */
  upload?: UploadResult;
  /** bench/lease-db-cpu.ts's result, when the `leases` row ran. */
  leases?: LeaseDbCpu;
  /** The traced passes after the rounds (bench/lib/traced.ts), when the run took them. */
  traced?: Traced;
  notes: string[];
}

/** One function's self time in a CPU pass: its share of the samples, and µs per request. */
export interface FrameCost {
  frame: string;
  share: number;
  us: number;
}

/** A latency pass with the stall trace: the pass's percentiles and what covered its stalls (> 5 ms). */
export interface TracedLatency {
  label: LatencyLabel;
  p50Us: number;
  p99Us: number;
  loopDelayP99Ms: number;
  stalls: number;
  stallMs: number;
  gcMs: number;
  sqliteMs: number;
  stdoutMs: number;
  /** Stalled time no traced event covered: the process not scheduled, or untimed code. */
  untracedMs: number;
}

/** A PostgreSQL latency pass with every statement's round trip timed in the gateway. */
export interface TracedStatements {
  label: string;
  requests: number;
  p50Us: number;
  /** Round trips in the gateway: how many, their mean and their median, ms. */
  leasedSettle: { calls: number; meanMs: number; p50Ms: number };
  settleMany: { calls: number; meanMs: number; p50Ms: number };
}

export interface Traced {
  /** This build on SQLite, at each rate its tail rows ran at. */
  stalls: TracedLatency[];
  /** CPU passes on SQLite, by build (`sqlite`, and `sqlite-base` with --baseline) and mode. */
  frames: Record<string, Partial<Record<Mode, FrameCost[]>>>;
  /** This build on PostgreSQL at 200/s. */
  pg?: TracedStatements;
  /** This build's JSON CPU pass: the peaks of its memory by part. */
  memory?: TracedMemory;
}

/** Peaks of process.memoryUsage() in a pass, MB. */
export interface TracedMemory {
  rssMb: number;
  heapTotalMb: number;
  heapUsedMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  /** RSS mapped from files (the node binary, native libraries); absent in results before it was read. */
  rssFileMb?: number;
}

export interface Previous {
  file: string;
  date: string;
  json?: { rps: number; cpuUsPerRequest: number };
  sse?: { rps: number; cpuUsPerRequest: number };
  /** The plain node:http proxy's figures in that file: the machine's drift between the two runs. */
  node?: {
    json?: { rps: number; cpuUsPerRequest: number };
    sse?: { rps: number; cpuUsPerRequest: number };
  };
}

/** `bench/upload.ts --json`. */
export interface UploadResult {
  uploadMb: number;
  rounds: number;
  directMsMedian: number;
  gatewayMsMedian: number;
  addedMsMedian: number;
  parallel: number;
  rssGrowthMbPerUpload: number;
}

/** `bench/lease-db-cpu.ts --json`: the database's CPU per reserve + settle pair, µs. */
export interface LeaseDbCpu {
  pairs: number;
  concurrency: number;
  withLeasesUs: number;
  withoutLeasesUs: number;
}
