/**
 * better-sqlite3 says "unable to open database file" or "attempt to write a readonly database"
 * without the path. This says which file, why, and what to do.
 */
export function sqliteOpenError(file: string, err: unknown, via?: string): Error {
  const code = (err as { code?: string } | undefined)?.code ?? '';
  const why = err instanceof Error ? err.message : String(err);
  const readOnly =
    /READONLY|PERM|CANTOPEN|AUTH/.test(code) || /readonly|permission|unable to open/i.test(why);
  const busy = /BUSY|LOCKED/.test(code);
  const hint = readOnly
    ? 'check that the folder exists and that tollgate may write to it and to the file (SQLite also writes -wal and -shm files next to it)'
    : busy
      ? 'another process kept it locked for over 5 s: check what else has the file open, then try again'
      : 'check the disk and the file; if the file is damaged, move it away and restart (a new store starts empty)';
  return new Error(
    `cannot open the SQLite store ${file}${via ? ` (${via})` : ''}: ${why}${code ? ` (${code})` : ''}; ${hint}, or choose another store with --store or $TOLLGATE_STORE.`,
    { cause: err },
  );
}
