// A user's permissions as two sets of key intervals (read, write), merged from all its roles, and
// the checks requests make against them. A request's range must be covered entirely by the union of
// the user's intervals (a prefix read needs the whole prefix, even if some keys in it do not exist).
// Keys are compared as bytes; here they are latin1 strings, whose code units order as the bytes do.

import { Permission_Type, type Permission } from '../proto/authpb/auth.js';

/** [start, end); end null = up to the end of the keyspace. */
export interface KeyInterval {
  readonly start: string;
  readonly end: string | null;
}

export function bytesKey(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/**
 * The interval a (key, range_end) pair names, as etcd reads it everywhere: an empty range_end is the
 * single key, "\0" is every key from `key` on, anything else is [key, range_end).
 */
export function intervalOf(key: Uint8Array, rangeEnd: Uint8Array): KeyInterval {
  const start = bytesKey(key);
  if (rangeEnd.byteLength === 0) return { start, end: start + '\0' };
  if (rangeEnd.byteLength === 1 && rangeEnd[0] === 0) return { start, end: null };
  return { start, end: bytesKey(rangeEnd) };
}

const isEmpty = (i: KeyInterval): boolean => i.end !== null && i.end <= i.start;

/** Sorted, disjoint, non-adjacent intervals covering the same keys as `intervals`. */
export function mergeIntervals(intervals: readonly KeyInterval[]): KeyInterval[] {
  const sorted = intervals
    .filter((i) => !isEmpty(i))
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: KeyInterval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && (last.end === null || i.start <= last.end)) {
      if (last.end !== null && (i.end === null || i.end > last.end))
        out[out.length - 1] = { start: last.start, end: i.end };
    } else {
      out.push(i);
    }
  }
  return out;
}

/** Whether the merged `set` covers every key of `wanted`. */
export function covers(set: readonly KeyInterval[], wanted: KeyInterval): boolean {
  // An inverted request range selects nothing; etcd's interval tree grants nothing for it either,
  // so only its first key counts.
  const want = isEmpty(wanted) ? { start: wanted.start, end: wanted.start + '\0' } : wanted;
  let lo = 0;
  let hi = set.length;
  // The last interval starting at or before want.start.
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (set[mid].start <= want.start) lo = mid + 1;
    else hi = mid;
  }
  const holder = set[lo - 1];
  if (holder === undefined) return false;
  if (holder.end === null) return true;
  if (want.start >= holder.end) return false;
  return want.end !== null && want.end <= holder.end;
}

export interface MergedPermissions {
  readonly read: readonly KeyInterval[];
  readonly write: readonly KeyInterval[];
}

export function mergePermissions(perms: Iterable<Permission>): MergedPermissions {
  const read: KeyInterval[] = [];
  const write: KeyInterval[] = [];
  for (const p of perms) {
    const i = intervalOf(p.key, p.rangeEnd);
    if (p.permType === Permission_Type.READ || p.permType === Permission_Type.READWRITE) read.push(i);
    if (p.permType === Permission_Type.WRITE || p.permType === Permission_Type.READWRITE) write.push(i);
  }
  return { read: mergeIntervals(read), write: mergeIntervals(write) };
}
