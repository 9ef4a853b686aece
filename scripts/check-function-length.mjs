#!/usr/bin/env node
// Lists the functions in src/ longer than MAX_LINES lines (declarations, methods, arrow functions
// and function expressions alike; a function's lines include those of the functions inside it).
// Exits 1 when one is found that has not earned its length: a function that has says why in a
// comment just above it that contains `earned-length:`.
//   node scripts/check-function-length.mjs [--max N] [dir…]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const root = new URL('../', import.meta.url).pathname;
const args = process.argv.slice(2);
const maxAt = args.indexOf('--max');
const MAX_LINES = maxAt >= 0 ? Number(args.splice(maxAt, 2)[1]) : 120;
const dirs = args.length > 0 ? args : ['src'];
const EARNED = 'earned-length:';

function walk(dir, out) {
  for (const name of readdirSync(join(root, dir))) {
    const rel = `${dir}/${name}`;
    if (statSync(join(root, rel)).isDirectory()) walk(rel, out);
    else if (/\.ts$/.test(name) && !/\.(d|gen)\.ts$/.test(name)) out.push(rel);
  }
  return out;
}

/** What to call a function in the report: its own name, or the name it is bound to. */
function nameOf(node) {
  if (node.name && ts.isIdentifier(node.name)) return node.name.text;
  if (node.name) return node.name.getText();
  const p = node.parent;
  if (p && (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)))
    return p.name.getText();
  if (p && ts.isCallExpression(p)) return `(callback of ${p.expression.getText().slice(0, 40)})`;
  return '(anonymous)';
}

/** The statement a function belongs to, whose leading comment may say why it is long. */
function commentHost(node) {
  let n = node;
  while (n.parent && !ts.isSourceFile(n.parent) && !ts.isBlock(n.parent) && !ts.isClassLike(n.parent)) {
    if (ts.isObjectLiteralExpression(n.parent)) break;
    n = n.parent;
  }
  return n;
}

const found = [];
for (const file of dirs.flatMap((d) => walk(d, []))) {
  const text = readFileSync(join(root, file), 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.end).line;
      const lines = end - start + 1;
      if (lines > MAX_LINES) {
        const host = commentHost(node);
        const comments = ts.getLeadingCommentRanges(text, host.pos) ?? [];
        const earned = comments.some((c) => text.slice(c.pos, c.end).includes(EARNED));
        found.push({
          file: relative(root, join(root, file)),
          line: start + 1,
          lines,
          name: nameOf(node),
          earned,
        });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}

found.sort((a, b) => b.lines - a.lines);
for (const f of found)
  console.log(
    `${String(f.lines).padStart(4)} lines  ${f.file}:${f.line}  ${f.name}${f.earned ? '  (earned)' : ''}`,
  );
const unearned = found.filter((f) => !f.earned);
if (unearned.length > 0) {
  console.error(
    `\n${unearned.length} function(s) over ${MAX_LINES} lines: split them, or say why one has earned its length in a comment above it containing '${EARNED}'.`,
  );
  process.exit(1);
}
