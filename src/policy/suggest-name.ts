/**
 * "Did you mean …" for key names typed by hand in Slack or the admin API. Optimal string
 * alignment distance (Levenshtein plus adjacent transpositions), because the typical slip is
 * `cusror-dev` or `cursor-dve`.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, at(i - 2, j - 2) + 1);
      const row = d[i];
      if (row) row[j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The configured name closest to `typed`, or undefined when nothing is close enough to be a
 * plausible typo (a third of the length, at least 2 edits) and no name contains what was typed.
 */
export function suggestName(typed: string, names: Iterable<string>): string | undefined {
  const wanted = typed.trim().toLowerCase();
  if (wanted === '') return undefined;
  const allowed = Math.max(2, Math.floor(wanted.length / 3));
  let best: { name: string; score: number } | undefined;
  for (const name of names) {
    const distance = editDistance(wanted, name.toLowerCase());
    // A fragment such as `cursor` for `cursor-dev` is a good hint even though it is many edits away.
    const score =
      distance <= allowed ? distance : name.includes(wanted) && wanted.length >= 3 ? allowed : Infinity;
    if (score === Infinity) continue;
    if (!best || score < best.score || (score === best.score && name < best.name)) best = { name, score };
  }
  return best?.name;
}
