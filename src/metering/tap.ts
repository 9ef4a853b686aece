/**
 * A tap sits between the upstream's response body and the client: it sees every chunk, feeds the
 * usage reader, and returns the bytes to send on at once. It never waits for more of the body
 * before passing a chunk on (the SSE rewriter holds back at most one partial line).
 */
export interface ResponseTap {
  /** The bytes to send to the client now for one upstream chunk. */
  transform(chunk: Buffer): Buffer;
  /** Called once when the upstream body ended: the bytes still held back. */
  flush(): Buffer;
}

export const EMPTY: Buffer = Buffer.alloc(0);
