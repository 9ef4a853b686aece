/**
 * The one definition of a CSV cell for every file tollgate writes (`tollgate usage --format csv`,
 * the dashboard's `usage.csv`, `requests.csv`, `audit.csv`). Cells carry client text (model names
 * a key holder typed, user agents, reasons), so each is defused and quoted here and nowhere else.
 */

/** Rows (the header first) as CSV text, every cell through {@link csvCell}, one line each. */
export function toCsv(rows: readonly (readonly string[])[]): string {
  return `${rows.map((row) => row.map(csvCell).join(',')).join('\n')}\n`;
}

/** One cell, defused and then quoted when it holds a quote, a comma, LF or CR. */
export function csvCell(cell: string): string {
  const safe = defuseFormula(cell);
  // A bare CR ends a row in spreadsheets just as LF does: quoted alike, or `ok\r=1+1` would
  // start a new row with a formula in it.
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/**
 * A cell starting with = + - @, tab or CR would run as a formula when the file is opened in a
 * spreadsheet, so it is prefixed with an apostrophe. Only a cell that is wholly a number keeps its
 * leading minus (`-1+HYPERLINK(…)` starts like one and is a formula).
 */
export function defuseFormula(cell: string): string {
  return /^[=+\-@\t\r]/.test(cell) && !/^-?\d+(\.\d+)?$/.test(cell) ? `'${cell}` : cell;
}
