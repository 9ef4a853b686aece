import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Migration } from '../../../src/store/migrations/migration.js';
import { POSTGRES_MIGRATIONS } from '../../../src/store/migrations/postgres/index.js';
import { SQLITE_MIGRATIONS } from '../../../src/store/migrations/sqlite/index.js';

/**
 * A shipped migration's SQL never changes (src/store/migrations/migration.ts): a database that ran
 * it keeps what it made, so a new text would only differ between databases. Several migrations
 * build their text from fragments exported by earlier ones (v20, v21, v26, v28): these hashes hold
 * every migration's text, and what it runs outside a transaction, to the byte. A migration newer
 * than the last one pinned is not checked until it is added here; a pinned hash is never edited.
 */

// sha256 of JSON.stringify([sql, outsideTransaction ?? []]).
const POSTGRES: Record<number, string> = {
  1: 'dc3bd9fbe44b7c926b0d7ddf6b95e495b8738d8719404c8e71785161a04443b0',
  2: '5a5e97b6f3c27d439fc758ecb6d025bdd28b1dadab9219cb4ea9f6cda9ec5d31',
  3: 'c71cc9425174b7579e4cc9546c10f4f6745d906d2cfc31490cc4034461e9e7de',
  4: 'd7fbf0d9764d158187f678f0cdfb8eab79c450a6419ac7c6432bdc342e261f80',
  5: 'cdb26612aa6cb66b2e0cc1609cc3e5b3186521520048c2c2c4f6da1e39012280',
  6: 'b0b9f0fb5d389ff77cb68e4e9be8f36742651ef291b90148080d42ec496fc429',
  7: 'd1fc8370b2326fc6150cf72b4954944633dfad77e8292af52524eb665e3f6afa',
  8: '24627ad67c2e994c505b596726c8564f323701cecd0c0f5edb65d580697345d7',
  9: 'c9de0f5cea7d3948fd9793ee9ed94d3598c749e0f23e61fd8c82cf4eb346c73b',
  10: '6534ea0093f605196f6c821557e7130ac2dfb631f49b18d8d98d204d2a09d959',
  11: '167ca9c37062c2842b28e1af0916106f293022e1b323124e97971d33f2cdab5a',
  12: 'b4825e2de6ed51cf2a18246336c2288cb07ac1391af978e542977fba6e3814a6',
  13: 'c182cf9b6686117d41f4d3a05d46006d9a9cebeeb9333d9513f967b34e47c9da',
  14: '2a09299507b73041d2f2e2befee9b1f24495010961aaf66f2b47b510b10d493b',
  16: '705fc10ab48af94d0b4f7a03a8f960b2aae916aa68f022e4ed09e0fd536f9480',
  17: 'b52a96c7957012fe95ecf4ecdaf3968345b3ee7c0fbf82929cea3ec410288ff5',
  18: '65c0d345445d0dc0a34eb2c0ecede9b8762123460b5c34e0415f0c4bc752a043',
  19: 'e2fcf9f43986e73f7d3e4f59b903d14b55fbb9b3e1c4161f89924b6a86067b95',
  20: 'd2ef54acc84fc36537de05f7f63122299a462e99f963b7395e704c0fb5ee229d',
  21: '8bace7946bfb235b1c3daef4e503efa246719e08af8530200f2fa11596a29956',
  22: '16a07aab60d17d6129caa843fe485f6d28574c8ed41cb9d8df9802c939afc4ee',
  23: '29f733308003c8cb01b042b1c4b021611c346715129202a9cb6b11749754b2f5',
  24: '5cd94510ccbf45c63f831cabcf69d2c1f7a39b95d89eec7e01381a348ec62c94',
  25: '3432c61bb25bdcc2dd57db5f60b98b916a1e145b946ab8ea80e1a6b63852b135',
  26: '10c946abbfbfb1f27b5a7798d6a66be46c40e8a97e239378f8757204c1bdc38e',
  27: '946b1e302f9ede68f8ac5c850561732ba91391ee85f017a73d8b91760da2b334',
  28: '6a7a4a20e145ba642bb34638a5a66be6bc34d981cff9f5d43893c3641b1985d1',
  29: '6a9ad85fe456f59ef9a0eeb6ee6d19c980af33d1be823b0dd52407d63488ae5b',
};
const SQLITE: Record<number, string> = {
  1: '98079cbcf2096f144d3a15c2fe6c04321e3c69b824bb21778ddf8c3d714d2616',
  2: 'eb963a5515876a379faa23cb0486dac46e5bb0f58998004b213a8c0b43ea40e4',
  3: '5c38e7f4b06f27255e0fef3e70042a13145e5e16d329a1be638742b0b9c79de3',
  4: '82b265a40c1034f4a8cb2f6e9319865b2fae221e23d95b32372019730cbae602',
  5: '007cf797bf2b0c1209a190f125d0bdb6b398623b9131597801b0999af8d64ebd',
  6: 'fe5edd31db0a1b6c9ead55276c2b8b88da88b3b7433cd4064ebd7ef86219eab2',
  7: 'bd41b9730960eb170e510f0b5dece2993ef17ff4b472909724d8ebd4c54a9264',
  8: '00f292c9a4534ffc7ca34b5f96af6ace64b097838a097f71b3cb602ff86424a0',
  10: '705fc10ab48af94d0b4f7a03a8f960b2aae916aa68f022e4ed09e0fd536f9480',
  11: 'bf5fe4b4ee0d02072168599a257834b89783f56b4cbe3173f59e1fa8fcb2c2c1',
  12: '2af12a68f7d3317565498df60459de765be188720947bc0cbd4c701f1176b497',
  13: 'b27e89195a3782d8dfd98c9492fb41bdfff8b3b1f07e4b8174fabc70423744fd',
};

const digest = (m: Migration) =>
  createHash('sha256')
    .update(JSON.stringify([m.sql, m.outsideTransaction ?? []]))
    .digest('hex');

describe.each([
  ['postgres', POSTGRES_MIGRATIONS, POSTGRES],
  ['sqlite', SQLITE_MIGRATIONS, SQLITE],
] as const)('%s migrations', (_, migrations, pinned) => {
  it('produce the SQL they shipped with, byte for byte', () => {
    const last = Math.max(...Object.keys(pinned).map(Number));
    const actual = Object.fromEntries(
      migrations.filter((m) => m.version <= last).map((m) => [m.version, digest(m)]),
    );
    expect(actual).toEqual(pinned);
  });
});
