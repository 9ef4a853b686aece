import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { leadingElementsEnd, topLevelMembers } from '../../../src/insights/json-members.js';

/** What the fingerprints hash must be exactly the members JSON.parse reads, for any body. */
describe('top-level members of a JSON body', () => {
  it('finds every member of any object, each span parsing to its value, however it is spaced', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue()),
        fc.constantFrom(undefined, 1, '\t'),
        (body, space) => {
          const raw = Buffer.from(JSON.stringify(body, null, space));
          const parsed = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
          const members = topLevelMembers(raw);
          // Sorted: an object lists integer-like keys first, the bytes in the order sent.
          expect(members?.map((m) => m.key).sort()).toEqual(Object.keys(parsed).sort());
          for (const m of members ?? []) {
            expect(JSON.parse(raw.toString('utf8', m.start, m.end))).toEqual(parsed[m.key]);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('ends the leading elements of an array where the next one starts', () => {
    const raw = Buffer.from('{"messages": [ {"role":"system","content":"a \\"]"} , {"role":"user"} ]}');
    const members = topLevelMembers(raw);
    const messages = members?.find((m) => m.key === 'messages');
    if (!messages) throw new Error('no messages member');
    const end = leadingElementsEnd(raw, messages.start, 1);
    expect(JSON.parse(`${raw.toString('utf8', messages.start, end)}]`)).toEqual([
      { role: 'system', content: 'a "]' },
    ]);
  });

  it('answers nothing for bytes that are not an object', () => {
    expect(topLevelMembers(Buffer.from('[1,2]'))).toBeUndefined();
    expect(topLevelMembers(Buffer.from('{"a":'))).toBeUndefined();
  });
});
