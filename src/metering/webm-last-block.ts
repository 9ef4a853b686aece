/**
 * The end of a WebM/Matroska recording whose header carries no Duration: a browser's
 * MediaRecorder (Open WebUI's voice input) writes a live stream, with no Duration and no Cues,
 * and music-metadata 11 reads neither clusters nor blocks, so it finds no duration there. The
 * only record of how long such a file is, is its last block's timestamp: this walks the
 * Segment's Clusters (Timecode + each SimpleBlock/Block's relative timecode) and nothing else.
 * Element sizes may be "unknown" (all ones), as MediaRecorder writes them for Segment and
 * Cluster: the walk steps into the Segment, its Info, each Cluster and BlockGroup and skips every
 * other element by its size, so a Cluster of unknown size ends where the next Cluster starts.
 */

import { type IFormat, parseFromTokenizer } from 'music-metadata';
import { type ChunkBytes, ChunkTokenizer } from './chunk-bytes.js';

const EBML = 0x1a45dfa3;
const SEGMENT = 0x18538067;
const INFO = 0x1549a966;
const TIMECODE_SCALE = 0x2ad7b1;
const CLUSTER = 0x1f43b675;
const TIMECODE = 0xe7;
const SIMPLE_BLOCK = 0xa3;
const BLOCK_GROUP = 0xa0;
const BLOCK = 0xa1;
const CLUSTER_ID = Uint8Array.from([0x1f, 0x43, 0xb6, 0x75]);

interface Element {
  id: number;
  /** Where the element's data starts, and ends (undefined: unknown size). */
  start: number;
  end: number | undefined;
}

/** An EBML variable-length integer at `at`: its value (marker kept for IDs) and length. */
function readVint(
  b: ChunkBytes,
  at: number,
  keepMarker: boolean,
): { value: number; length: number; unknown: boolean } | undefined {
  const first = b.byte(at);
  if (first === undefined || first === 0) return undefined;
  const length = Math.clz32(first) - 23;
  if (at + length > b.length) return undefined;
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    const byte = b.byte(at + i) as number;
    value = value * 256 + byte;
    allOnes &&= byte === 0xff;
  }
  return { value, length, unknown: !keepMarker && allOnes };
}

function readElement(b: ChunkBytes, at: number): Element | undefined {
  const id = readVint(b, at, true);
  if (!id) return undefined;
  const size = readVint(b, at + id.length, false);
  if (!size) return undefined;
  const start = at + id.length + size.length;
  return { id: id.value, start, end: size.unknown ? undefined : Math.min(b.length, start + size.value) };
}

const readUint = (b: ChunkBytes, e: Element) => {
  let v = 0;
  for (let i = e.start; i < (e.end ?? e.start); i++) v = v * 256 + (b.byte(i) as number);
  return v;
};

/** A block's timecode relative to its Cluster: the signed 16 bits after its track number. */
function blockOffset(b: ChunkBytes, e: Element): number | undefined {
  const track = readVint(b, e.start, false);
  if (!track || e.start + track.length + 2 > (e.end ?? b.length)) return undefined;
  const at = e.start + track.length;
  const u16 = (b.byte(at) as number) * 256 + (b.byte(at + 1) as number);
  return u16 >= 0x8000 ? u16 - 0x10000 : u16;
}

/**
 * The timestamp, in seconds, at which the file's last block starts (the file's duration is that
 * plus the last block's own length), or undefined when `file` is not Matroska/WebM or has no block.
 */
export function readLastBlockSeconds(file: ChunkBytes): number | undefined {
  const header = readElement(file, 0);
  if (header?.id !== EBML || header.end === undefined) return undefined;
  const segment = readElement(file, header.end);
  if (segment?.id !== SEGMENT) return undefined;
  const segmentEnd = segment.end ?? file.length;
  let scale = 1_000_000;
  let last: number | undefined;
  let clusterTime: number | undefined;
  let at = segment.start;
  while (at < segmentEnd) {
    const e = readElement(file, at);
    if (!e) break;
    if (e.id === CLUSTER || e.id === INFO || e.id === BLOCK_GROUP) {
      if (e.id === CLUSTER) clusterTime = 0;
      at = e.start; // step into: its Timecode, TimecodeScale or Block are inside
      continue;
    }
    if (e.id === TIMECODE_SCALE) scale = readUint(file, e) || scale;
    if (e.id === TIMECODE && clusterTime !== undefined) clusterTime = readUint(file, e);
    if ((e.id === SIMPLE_BLOCK || e.id === BLOCK) && clusterTime !== undefined) {
      const offset = blockOffset(file, e);
      if (offset !== undefined) last = Math.max(last ?? 0, clusterTime + offset);
    }
    // Any other element of unknown size cannot be stepped over: the walk ends there.
    if (e.end === undefined) break;
    at = e.end;
  }
  return last === undefined ? undefined : (last * scale) / 1e9;
}

/** The longest an Opus packet plays (RFC 6716 §3.2.1): what the last block adds at most. */
const OPUS_PACKET_SECONDS_MAX = 0.12;

/**
 * A live WebM's format: its header (everything before the first Cluster) read by music-metadata,
 * and for Opus, the one codec MediaRecorder writes in WebM audio, a duration that is never short:
 * the last block's start plus the longest an Opus packet plays. Undefined for anything else.
 */
export async function readLiveWebm(file: ChunkBytes): Promise<IFormat | undefined> {
  const firstCluster = file.indexOf(CLUSTER_ID);
  if (firstCluster < 0) return undefined;
  const header = await parseFromTokenizer(
    new ChunkTokenizer(file, { size: firstCluster, mimeType: 'audio/webm', randomAccess: true }),
    {
      skipCovers: true,
    },
  ).catch(() => undefined);
  if (!header || !/^opus$/i.test(header.format.codec ?? '')) return undefined;
  const lastBlock = readLastBlockSeconds(file);
  if (lastBlock === undefined) return undefined;
  return { ...header.format, duration: lastBlock + OPUS_PACKET_SECONDS_MAX };
}
