/**
 * The headers of a multipart upload that another parser could read otherwise than busboy does.
 * The body is forwarded exactly as the client sent it (proxy/multipart.ts), so the upstream's own
 * parser reads it again: where the two disagree, the gateway bounds one request and the upstream
 * runs another. busboy takes the first of a repeated parameter (`boundary=A; boundary=B`,
 * `name="prompt"; name="n"`) and the first Content-Disposition of a part, where Python's parsers
 * (the cgi/email header parsers, Werkzeug, python-multipart, all building a dict) take the last:
 * a client could have the gateway read `n=1` and a cheap file while the upstream read `n=10` or
 * another file. Such an upload is refused, naming what is ambiguous
 * (docs/api.md#images-and-audio). Legitimate clients never send these.
 */

/** A header value's parameters (`type; a=b; c="d;e"`), names lowercased, in order. */
export function headerParams(value: string): Array<[string, string]> {
  const params: Array<[string, string]> = [];
  let i = value.indexOf(';');
  while (i >= 0 && i < value.length) {
    i++;
    while (value[i] === ' ' || value[i] === '\t') i++;
    const eq = value.indexOf('=', i);
    const semi = value.indexOf(';', i);
    if (eq < 0 || (semi >= 0 && semi < eq)) {
      // A parameter without a value: its name still counts.
      const name = value.slice(i, semi < 0 ? value.length : semi).trim();
      if (name) params.push([name.toLowerCase(), '']);
      i = semi;
      continue;
    }
    const name = value.slice(i, eq).trim().toLowerCase();
    let j = eq + 1;
    while (value[j] === ' ' || value[j] === '\t') j++;
    let v = '';
    if (value[j] === '"') {
      for (j++; j < value.length && value[j] !== '"'; j++)
        v += value[j] === '\\' ? (value[++j] ?? '') : value[j];
      j = value.indexOf(';', j);
    } else {
      const end = value.indexOf(';', j);
      v = value.slice(j, end < 0 ? value.length : end).trim();
      j = end;
    }
    params.push([name, v]);
    i = j;
  }
  return params;
}

/** Why a header value's parameters are ambiguous (one repeated), or undefined. */
function repeatedParam(params: Array<[string, string]>): string | undefined {
  const seen = new Set<string>();
  for (const [name] of params) {
    if (seen.has(name)) return `its parameter '${name}' more than once`;
    seen.add(name);
  }
  return undefined;
}

/** Why a multipart Content-Type is ambiguous, or undefined. */
export function ambiguousContentType(contentType: string): string | undefined {
  const why = repeatedParam(headerParams(contentType));
  return why ? `the content-type has ${why}` : undefined;
}

/** Why one part's header block (without its final blank line) is ambiguous, or undefined. */
export function ambiguousPartHeaders(block: string): string | undefined {
  let dispositions = 0;
  for (const line of block.split('\r\n')) {
    if (line === '') continue;
    if (line[0] === ' ' || line[0] === '\t') return 'a part header folded over two lines';
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    if (line.slice(0, colon).trim().toLowerCase() !== 'content-disposition') continue;
    if (++dispositions > 1) return 'a part with more than one Content-Disposition';
    const params = headerParams(line.slice(colon + 1));
    const why = repeatedParam(params);
    if (why) return `a part's Content-Disposition with ${why}`;
    if (params.some(([name]) => name === 'name*')) return "a part named with an encoded 'name*' parameter";
  }
  return undefined;
}

const EMPTY = Buffer.alloc(0);
const CRLF = Buffer.from('\r\n');
const END_OF_HEADERS = Buffer.from('\r\n\r\n');
/** The most a part's headers may take (a real part's are a few hundred bytes). */
export const PART_HEADERS_MAX_BYTES = 16 * 1024;

/**
 * Reads an upload's part headers as its chunks arrive (the bodies are only searched for the next
 * delimiter, never copied) and returns why one is ambiguous, once, or undefined.
 */
export function partHeaderCheck(boundary: string): (chunk: Buffer) => string | undefined {
  const delim = Buffer.from(`\r\n--${boundary}`);
  // The first delimiter may open the body, with no line break before it.
  let carry: Buffer = CRLF;
  let mode: 'body' | 'after' | 'headers' | 'done' = 'body';
  let after = '';
  let header: Buffer = EMPTY;

  /** Finds the next delimiter from chunk[i]; returns the index after it, or -1 (carry kept). */
  const nextDelimiter = (chunk: Buffer, i: number): number => {
    const carried = carry.length;
    if (carried > 0) {
      // A delimiter across the previous chunks' end and this one's start.
      const joint = Buffer.concat([carry, chunk.subarray(i, i + delim.length - 1)]);
      const at = joint.indexOf(delim);
      carry = EMPTY;
      if (at >= 0) return i + at + delim.length - carried;
      if (chunk.length - i < delim.length - 1) {
        carry = Buffer.from(joint.subarray(Math.max(0, joint.length - (delim.length - 1))));
        return -1;
      }
    }
    const at = chunk.indexOf(delim, i);
    if (at >= 0) return at + delim.length;
    carry = Buffer.from(chunk.subarray(Math.max(i, chunk.length - (delim.length - 1))));
    return -1;
  };

  return (chunk) => {
    let i = 0;
    while (i < chunk.length) {
      if (mode === 'done') return undefined;
      if (mode === 'body') {
        const next = nextDelimiter(chunk, i);
        if (next < 0) return undefined;
        mode = 'after';
        after = '';
        i = next;
      } else if (mode === 'after') {
        // `--` closes the body; else padding up to the line break, then the part's headers.
        const lf = chunk.indexOf(0x0a, i);
        after += chunk.toString('latin1', i, lf < 0 ? chunk.length : lf + 1);
        if (after.startsWith('--')) {
          mode = 'done';
          return undefined;
        }
        if (after.length > 1024) return 'a delimiter line over 1 kB';
        if (lf < 0) return undefined;
        mode = 'headers';
        header = CRLF;
        i = lf + 1;
      } else {
        const start = header.length;
        header = Buffer.concat([header, chunk.subarray(i, i + PART_HEADERS_MAX_BYTES)]);
        const end = header.indexOf(END_OF_HEADERS, Math.max(0, start - 3));
        if ((end < 0 ? header.length : end) > PART_HEADERS_MAX_BYTES) return 'part headers over 16 kB';
        if (end < 0) {
          i = chunk.length;
          continue;
        }
        const why = ambiguousPartHeaders(header.toString('latin1', 2, end));
        if (why) return why;
        i += end + END_OF_HEADERS.length - start;
        header = EMPTY;
        // The part's body starts here; its closing delimiter may follow at once.
        mode = 'body';
      }
    }
    return undefined;
  };
}
