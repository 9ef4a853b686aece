import { describe, expect, it } from 'vitest';
import { repeatedField } from '../../../src/proxy/json-duplicates.js';

describe('a JSON body that names a field twice', () => {
  it('finds a field repeated at the top level, however its name is escaped', () => {
    expect(repeatedField('{"model":"m","max_tokens":100,"max_tokens":100000}')).toBe('max_tokens');
    expect(repeatedField('{"max_tokens":100,"max\\u005ftokens":100000}')).toBe('max_tokens');
    expect(repeatedField(' {\n "a" : 1 ,\n "a" : 2 }')).toBe('a');
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
