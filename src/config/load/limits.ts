import type { Problem } from '../types.js';

/**
 * Bounds on what one keys.yaml may cost the process that loads it.
 *
 * Size: parsing runs on the gateway's event loop during a hot reload, where every millisecond
 * is added to requests in flight. A 10,000-key file with descriptions and tags is about 3 MB and
 * loads in a few hundred ms (`npm run bench:validate`); 8 MB (some 25,000 such keys) keeps a
 * reload around a second, while a 50 MB file blocked the loop for 8 s. A larger file is refused
 * before it is read or parsed.
 *
 * Problems: a file broken everywhere (a bad merge, a generator bug) can have 100,000 of them. Only
 * the first ones in file order are reported, then a count: nobody reads the rest, and logs,
 * /healthz and Slack should not carry megabytes of them.
 */
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
export const MAX_REPORTED_PROBLEMS = 100;

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export function tooLargeProblem(file: string, bytes: number): Problem {
  return {
    file,
    line: 1,
    col: 1,
    path: '',
    severity: 'error',
    message: `the file is ${megabytes(bytes)}, more than the ${megabytes(MAX_CONFIG_BYTES)} a keys.yaml may be (some 25,000 keys): tollgate does not parse it. Check that the right file was written (not a log or a dump), or split very large fleets across gateways`,
  };
}

/** Keeps the first `MAX_REPORTED_PROBLEMS` of a sorted list and says how many more there were. */
export function boundProblems(problems: Problem[]): Problem[] {
  if (problems.length <= MAX_REPORTED_PROBLEMS) return problems;
  const kept = problems.slice(0, MAX_REPORTED_PROBLEMS);
  const next = problems[MAX_REPORTED_PROBLEMS] as Problem;
  const more = problems.length - MAX_REPORTED_PROBLEMS;
  const noun = next.severity === 'error' ? 'errors' : 'warnings';
  kept.push({
    ...next,
    path: '',
    message: `…and ${more.toLocaleString('en-US')} more ${noun} from here on, not listed: fix the ones above and check again`,
  });
  return kept;
}
