#!/usr/bin/env node
// Part of `npm run lint`. A clone must explain itself: code, tests, benches and docs cite the
// repository's own docs (`docs/api.md#errors`), never a contract file that lives outside it. Fails on
// (1) a mention of such a file, and (2) a cited `docs/….md#anchor` or `README.md#anchor` whose file or
// heading does not exist, so a renamed heading cannot leave a dead citation behind.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('../', import.meta.url).pathname;
const ROOTS = ['src', 'test', 'docs', 'bench', 'scripts'];
const TOP_FILES = ['README.md', 'CONTRIBUTING.md', 'CHANGELOG.md', 'ARCHITECTURE.md'];
const TEXT = /\.(ts|mts|cts|js|mjs|cjs|md|json|yaml|yml|sql|sh)$/;
// Built from parts so this file does not match itself.
const OUTSIDE = new RegExp(
  ['\\bSPEC\\b', 'STACK\\.md', 'STYLE\\.md', 'CLIENTS\\.md', '\\.\\./shared\\b'].join('|'),
);
// A test that asserts the docs never mention those files has to spell them.
const ALLOWED = new Set(['test/unit/docs/reference-docs.test.ts']);
const CITATION = /(?<![\w./-])((?:docs\/[\w-]+|README|CONTRIBUTING|ARCHITECTURE)\.md)#([\w-]+)/g;

function walk(dir, out) {
  for (const name of readdirSync(join(root, dir))) {
    const rel = `${dir}/${name}`;
    if (name === 'node_modules' || name.startsWith('.')) continue;
    if (statSync(join(root, rel)).isDirectory()) walk(rel, out);
    else if (TEXT.test(name)) out.push(rel);
  }
  return out;
}

/** GitHub's heading anchors: lower case, punctuation other than `-` and `_` dropped, spaces to `-`. */
function anchorsOf(file) {
  const anchors = new Set();
  let fenced = false;
  for (const line of readFileSync(join(root, file), 'utf8').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = fenced ? null : /^#{1,6}\s+(.*)$/.exec(line);
    if (!m) continue;
    const slug = m[1]
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    let n = 0;
    while (anchors.has(n === 0 ? slug : `${slug}-${n}`)) n++;
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

const files = [...ROOTS.flatMap((d) => walk(d, [])), ...TOP_FILES.filter((f) => existsSync(join(root, f)))];
const self = relative(root, new URL(import.meta.url).pathname);
const anchorCache = new Map();
const problems = [];
for (const file of files) {
  if (file === self) continue;
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  lines.forEach((line, i) => {
    const at = `${file}:${i + 1}`;
    if (!ALLOWED.has(file) && OUTSIDE.test(line))
      problems.push(`${at}: cites a file outside the repository; cite docs/… (or nothing) instead`);
    for (const [, target, anchor] of line.matchAll(CITATION)) {
      if (!existsSync(join(root, target))) {
        problems.push(`${at}: ${target} does not exist`);
        continue;
      }
      if (!anchorCache.has(target)) anchorCache.set(target, anchorsOf(target));
      if (!anchorCache.get(target).has(anchor)) problems.push(`${at}: ${target} has no heading #${anchor}`);
    }
  });
}
if (problems.length > 0) {
  console.error(`check-references: ${problems.length} problem(s)\n${problems.join('\n')}`);
  process.exit(1);
}
