// Segment file names and the choice of segments to read, as in etcd 3.4 (wal/util.go).

import { WalNotFoundError } from './errors.js';
import type { WalFs } from './fs.js';

export interface SegmentName {
  /** The file name, e.g. 0000000000000001-0000000000000065.wal */
  readonly name: string;
  /** Sequence number: 0 for the first segment, +1 for each cut. */
  readonly seq: number;
  /** Index of the first raft entry the segment may hold (the last index before the cut + 1). */
  readonly index: number;
}

const WAL_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

function hex16(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`WAL name field ${n} is not a safe integer`);
  return n.toString(16).padStart(16, '0');
}

/** `%016x-%016x.wal` */
export function walName(seq: number, index: number): string {
  return `${hex16(seq)}-${hex16(index)}.wal`;
}

/** Parses a segment name; undefined for anything else (etcd ignores other files in the WAL dir). */
export function parseWalName(name: string): SegmentName | undefined {
  const m = WAL_NAME.exec(name);
  if (m === null) return undefined;
  const seq = Number.parseInt(m[1], 16);
  const index = Number.parseInt(m[2], 16);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(index)) return undefined;
  return { name, seq, index };
}

/** The WAL segments in `dir`, oldest first; [] if the directory does not exist. */
export function listSegments(fs: WalFs, dir: string): SegmentName[] {
  let names: string[];
  try {
    names = fs.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: SegmentName[] = [];
  for (const n of names) {
    const s = parseWalName(n);
    if (s !== undefined) out.push(s);
  }
  // Fixed-width hex: name order is (seq, index) order.
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The segments to read to find the snapshot at `index` and everything after it: from the last segment
 * whose first index is <= `index` to the end (etcd's searchIndex + isValidSeq).
 */
export function selectSegments(dir: string, all: readonly SegmentName[], index: number): SegmentName[] {
  let from = -1;
  for (let i = all.length - 1; i >= 0; i--) {
    if (all[i].index <= index) {
      from = i;
      break;
    }
  }
  if (from < 0) {
    throw new WalNotFoundError(
      all.length === 0
        ? `no WAL segments in ${dir}`
        : `no segment in ${dir} can hold index ${index} (the oldest starts at ${all[0].index})`,
    );
  }
  const selected = all.slice(from);
  for (let i = 1; i < selected.length; i++) {
    if (selected[i].seq !== selected[i - 1].seq + 1) {
      throw new WalNotFoundError(
        `segment sequence in ${dir} has a gap between ${selected[i - 1].name} and ${selected[i].name}`,
      );
    }
  }
  return selected;
}
