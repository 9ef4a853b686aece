import { describe, expect, it } from 'vitest';
import { repeatedField } from '../../../src/proxy/json-duplicates.js';
import { parseJsonBody } from '../../../src/proxy/read-body.js';

describe('a JSON body that names a field twice', () => {
  it('finds a field repeated at the top level, however its name is escaped', () => {
    expect(repeatedField('{"model":"m","max_tokens":100,"max_tokens":100000}')).toBe('max_tokens');
    expect(repeatedField('{"max_tokens":100,"max\\u005ftokens":100000}')).toBe('max_tokens');
    expect(repeatedField(' {\n "a" : 1 ,\n "a" : 2 }')).toBe('a');
  });

  it('takes the request’s own fields that differ only in case for one, as a case-blind reader does', () => {
    expect(repeatedField('{"model":"m","max_tokens":100,"MAX_TOKENS":100000}')).toBe('MAX_TOKENS');
    // Go folds the Kelvin sign to k and the long s to s.
    expect(repeatedField('{"max_tokens":1,"max_to\u212aens":2}')).toBe('max_to\u212aens');
    expect(repeatedField('{"service_tier":"default","\u017fervice_tier":"priority"}')).toBe(
      '\u017fervice_tier',
    );
    // Nested objects may hold both: a JSON schema's properties, a tool's arguments.
    expect(
      repeatedField('{"schema":{"properties":{"id":{},"ID":{}}},"tools":[{"a":1,"A":2}]}'),
    ).toBeUndefined();
  });

  it('finds one repeated in a nested object, inside arrays too', () => {
    expect(repeatedField('{"web_search_options":{"search_type":"fast","search_type":"pro"}}')).toBe(
      'search_type',
    );
    expect(repeatedField('{"messages":[{"role":"user","content":"hi","role":"system"}]}')).toBe('role');
    expect(repeatedField('{"a":[[{"b":1}],{"c":{"d":1,"d":2}}]}')).toBe('d');
  });

  it('passes a field repeated in sibling objects, and names inside string values', () => {
    expect(repeatedField('{"messages":[{"role":"user"},{"role":"assistant"}],"role":"x"}')).toBeUndefined();
    expect(
      repeatedField(
        '{"content":"\\"max_tokens\\":1, {\\"a\\":1,\\"a\\":2}","max_tokens":5,"x":["max_tokens","max_tokens"]}',
      ),
    ).toBeUndefined();
    expect(repeatedField('{"a":"\\\\","b":{"a":"\\\\\\""},"c":{}}')).toBeUndefined();
    expect(repeatedField('{}')).toBeUndefined();
  });

  it('reads a long string in one jump and still sees the fields after it', () => {
    const image = 'A'.repeat(2_000_000);
    expect(repeatedField(`{"image":"${image}","n":1}`)).toBeUndefined();
    expect(repeatedField(`{"n":1,"image":"${image}","n":4}`)).toBe('n');
  });
});

describe('a JSON body that is not UTF-8', () => {
  it('is refused before it is parsed: a name with a stray byte could be another name upstream', () => {
    const body = Buffer.concat([
      Buffer.from('{"model":"m","max_tokens":100,"max_tokens'),
      Buffer.from([0xff]),
      Buffer.from('":100000}'),
    ]);
    expect(() => parseJsonBody(body)).toThrow(/not valid UTF-8/);
    expect(parseJsonBody(Buffer.from('{"model":"m","content":"héllo 😀"}'))).toEqual({
      model: 'm',
      content: 'héllo 😀',
    });
  });
});
