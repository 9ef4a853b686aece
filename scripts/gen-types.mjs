#!/usr/bin/env node
// Generates src/config/types.gen.ts from schemas/keys.schema.json, so the schema stays the one
// definition of keys.yaml. `--stdout` prints instead of writing (the drift test compares the two).
import { readFileSync, writeFileSync } from 'node:fs';
import { compile } from 'json-schema-to-typescript';

const root = new URL('../', import.meta.url);
const schemaUrl = new URL('schemas/keys.schema.json', root);
const outUrl = new URL('src/config/types.gen.ts', root);

const BANNER = `/* This file is generated from schemas/keys.schema.json by scripts/gen-types.mjs. Do not edit it:
 * change the schema and run \`npm run gen:types\`. A test fails when the two drift apart. */`;

const schema = JSON.parse(readFileSync(schemaUrl, 'utf8'));
const ts = await compile(schema, 'KeysFile', {
  bannerComment: BANNER,
  additionalProperties: false,
  strictIndexSignatures: true,
  // Resolving $refs must never touch the network or the filesystem outside the schema.
  $refOptions: { resolve: { external: false } },
  format: true,
  style: { singleQuote: true, printWidth: 110 },
});

if (process.argv.includes('--stdout')) process.stdout.write(ts);
else writeFileSync(outUrl, ts);
