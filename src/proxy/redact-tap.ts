import { MIN_SECRET_LENGTH } from '../keys/mask-secrets.js';
import { EMPTY, type ResponseTap } from '../metering/tap.js';

/**
 * The bytes that replace a secret in a response body: as many as the secret had, so a
 * Content-Length the upstream sent stays true and nothing about the framing changes. A tollgate
 * key keeps its `tgk_Ab` and last four characters, anything else reads `[redacted]***`.
 */
function replacementFor(secret: Buffer): Buffer {
  const out = Buffer.alloc(secret.length, '*');
  if (secret.subarray(0, 4).toString('latin1') === 'tgk_') {
    secret.copy(out, 0, 0, 6);
    secret.copy(out, secret.length - 4, secret.length - 4);
  } else {
    out.write('[redacted]'.slice(0, secret.length), 0, 'latin1');
  }
  return out;
}

/**
 * Wraps a response tap so that the given secrets (the upstream key the gateway sent, the client's
 * own key) never reach the client, whatever the upstream echoes into its body: a debugging proxy
 * or a misconfigured relay that reflects request headers.
 *
 * It works on each chunk as it passes and never waits for the rest of the body. A secret split
 * across two chunks is caught by holding back the chunk's trailing bytes that could begin one:
 * only bytes that occur in some secret, and fewer than the longest secret. JSON ends in `}` and
 * an SSE event in a newline, neither of which a key contains, so in practice nothing is held and
 * a stream is not delayed; what is held goes out with the next chunk or at the end.
 */
export function redactTap(inner: ResponseTap, secrets: readonly string[]): ResponseTap {
  const list = [...new Set(secrets.filter((s) => s.length >= MIN_SECRET_LENGTH))]
    .map((s) => Buffer.from(s, 'utf8'))
    // Longest first, so a secret that contains another is replaced whole.
    .sort((a, b) => b.length - a.length);
  if (list.length === 0) return inner;
  // Made when a secret is first found, which is almost never: most responses pay nothing for them.
  const replacements: (Buffer | undefined)[] = [];
  const maxLen = list[0]?.length ?? 0;
  const secretBytes = new Uint8Array(256);
  for (const s of list) for (const b of s) secretBytes[b] = 1;
  let carry: Buffer = EMPTY;

  const push = (chunk: Buffer): Buffer => {
    if (chunk.length === 0 && carry.length === 0) return chunk;
    let buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    let copied = carry.length > 0;
    list.forEach((secret, i) => {
      for (let at = buf.indexOf(secret); at >= 0; at = buf.indexOf(secret, at + secret.length)) {
        // The upstream's buffer is not ours to change: copy once, then replace in place.
        if (!copied) {
          buf = Buffer.from(buf);
          copied = true;
        }
        replacements[i] ??= replacementFor(secret);
        replacements[i].copy(buf, at);
      }
    });
    let keep = 0;
    while (keep < maxLen - 1 && keep < buf.length && secretBytes[buf[buf.length - 1 - keep] as number] === 1)
      keep++;
    carry = keep > 0 ? Buffer.from(buf.subarray(buf.length - keep)) : EMPTY;
    return keep > 0 ? buf.subarray(0, buf.length - keep) : buf;
  };

  return {
    transform: (chunk) => push(inner.transform(chunk)),
    flush() {
      const out = push(inner.flush());
      const rest = carry;
      carry = EMPTY;
      return rest.length === 0 ? out : out.length === 0 ? rest : Buffer.concat([out, rest]);
    },
  };
}
