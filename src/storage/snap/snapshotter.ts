// Raft snapshot files in `<data-dir>/member/snap/`, as etcd's snap.Snapshotter keeps them.
//
// A file is named `%016x-%016x.snap` (term, index of the snapshot) and holds snappb.Snapshot{crc, data}
// where data is the marshalled raftpb.Snapshot (see snappb.ts). The raft snapshot records the index,
// term and membership the keyspace in the backend corresponds to; the keyspace itself is not in it.
//
// Differences from etcd, all in the direction of safety:
// - etcd writes the final name directly and relies on the CRC to catch a torn file; we write
//   `<name>.tmp`, fsync, rename, fsync the directory (atomic-file.ts), so a crash never leaves a torn
//   `.snap` file. Leftover `*.snap.tmp` files are removed by the next load.
// - `.snap` names that do not parse as `%016x-%016x.snap` are skipped with a warning instead of
//   being read in string order with the others.
//
// Loading mirrors etcd's loadMatching: newest first, a file that cannot be read, is empty, fails the
// CRC or does not decode is renamed to `<name>.broken` with a warning and the next older one is tried;
// the first readable snapshot whose (term, index) the WAL also records wins.

import { readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { CodecError, decodeSnapshot, encodeSnapshot } from '../../raft/codec.js';
import { isEmptySnapshot, type Snapshot } from '../../raft/types.js';
import { removeStaleTempFiles, writeFileAtomic, type AtomicWriteHooks } from './atomic-file.js';
import { decodeSnapEnvelope, encodeSnapEnvelope, snapCrc } from './snappb.js';

export const SNAP_SUFFIX = '.snap';
export const SNAP_DB_SUFFIX = '.snap.db';
export const BROKEN_SUFFIX = '.broken';

/** etcd's error strings (server/etcdserver/api/snap/snapshotter.go). */
export const ERR_NO_SNAPSHOT = 'snap: no available snapshot';
export const ERR_EMPTY_SNAPSHOT = 'snap: empty snapshot';
export const ERR_CRC_MISMATCH = 'snap: crc mismatch';

export type SnapErrorCode = 'no-snapshot' | 'empty-snapshot' | 'crc-mismatch' | 'malformed';

export class SnapError extends Error {
  constructor(
    readonly code: SnapErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'SnapError';
  }
}

export interface SnapLogger {
  warn(message: string): void;
}

const CONSOLE_LOGGER: SnapLogger = { warn: (m) => console.warn(m) };

export interface SnapOptions {
  readonly logger?: SnapLogger;
}

/** A snapshot file, identified by the term and index in its name. */
export interface SnapFile {
  readonly name: string;
  readonly term: number;
  readonly index: number;
}

/** The position of a snapshot as the WAL records it (walpb.Snapshot). */
export interface WalSnapshot {
  readonly index: number;
  readonly term: number;
}

function hex16(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a valid term or index: ${n}`);
  return n.toString(16).padStart(16, '0');
}

/** `%016x-%016x.snap` for (term, index). */
export function snapFileName(term: number, index: number): string {
  return `${hex16(term)}-${hex16(index)}${SNAP_SUFFIX}`;
}

const SNAP_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

/** Term and index of a well-formed snapshot file name, or undefined. */
export function parseSnapFileName(name: string): SnapFile | undefined {
  const m = SNAP_NAME.exec(name);
  if (m === null) return undefined;
  const term = parseInt(m[1], 16);
  const index = parseInt(m[2], 16);
  if (!Number.isSafeInteger(term) || !Number.isSafeInteger(index)) return undefined;
  return { name, term, index };
}

/** Newest first: by term, then index (the reverse of the names' string order, as etcd sorts them). */
function newestFirst(a: SnapFile, b: SnapFile): number {
  return b.term - a.term || b.index - a.index;
}

/**
 * Writes `snapshot` to `<dir>/%016x-%016x.snap` atomically and durably; returns the file name, or
 * undefined for an empty snapshot (index 0), which etcd does not save either.
 */
export async function saveSnap(
  dir: string,
  snapshot: Snapshot,
  hooks?: AtomicWriteHooks,
): Promise<string | undefined> {
  if (isEmptySnapshot(snapshot)) return undefined;
  const { term, index } = snapshot.metadata;
  const name = snapFileName(term, index);
  await writeFileAtomic(join(dir, name), encodeSnapEnvelope(encodeSnapshot(snapshot)), 0o666, hooks);
  return name;
}

/** The well-formed `.snap` files in `dir`, newest first. */
export async function listSnaps(dir: string, options: SnapOptions = {}): Promise<SnapFile[]> {
  const logger = options.logger ?? CONSOLE_LOGGER;
  const snaps: SnapFile[] = [];
  for (const name of await readdir(dir)) {
    if (!name.endsWith(SNAP_SUFFIX)) continue;
    const parsed = parseSnapFileName(name);
    if (parsed === undefined) {
      logger.warn(`snap: skipping a .snap file with an unexpected name: ${join(dir, name)}`);
      continue;
    }
    snaps.push(parsed);
  }
  return snaps.sort(newestFirst);
}

/**
 * Reads and verifies one snapshot file (etcd's snap.Read): SnapError 'empty-snapshot' for an empty
 * file or envelope, 'crc-mismatch', 'malformed' when either protobuf layer does not decode; file
 * system errors pass through.
 */
export async function readSnapFile(path: string): Promise<Snapshot> {
  const b = await readFile(path);
  if (b.byteLength === 0) throw new SnapError('empty-snapshot', ERR_EMPTY_SNAPSHOT);
  let env;
  try {
    env = decodeSnapEnvelope(b);
  } catch (e) {
    throw new SnapError('malformed', `snap: failed to unmarshal snappb.Snapshot: ${messageOf(e)}`, {
      cause: e,
    });
  }
  if (env.data.byteLength === 0 || env.crc === 0) throw new SnapError('empty-snapshot', ERR_EMPTY_SNAPSHOT);
  if (snapCrc(env.data) !== env.crc) throw new SnapError('crc-mismatch', ERR_CRC_MISMATCH);
  try {
    return decodeSnapshot(env.data);
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    throw new SnapError('malformed', `snap: failed to unmarshal raftpb.Snapshot: ${e.message}`, { cause: e });
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** etcd's loadSnap: a file that fails to read is renamed to `<name>.broken`. */
async function loadOrQuarantine(
  dir: string,
  name: string,
  logger: SnapLogger,
): Promise<Snapshot | undefined> {
  const path = join(dir, name);
  try {
    return await readSnapFile(path);
  } catch (e) {
    logger.warn(`snap: failed to read a snap file ${path}: ${messageOf(e)}`);
    try {
      await rename(path, path + BROKEN_SUFFIX);
      logger.warn(`snap: renamed to a broken snap file: ${path + BROKEN_SUFFIX}`);
    } catch (re) {
      logger.warn(`snap: failed to rename a broken snap file ${path}: ${messageOf(re)}`);
    }
    return undefined;
  }
}

async function loadMatching(
  dir: string,
  matches: (s: Snapshot) => boolean,
  options: SnapOptions,
): Promise<Snapshot> {
  const logger = options.logger ?? CONSOLE_LOGGER;
  for (const stale of await removeStaleTempFiles(dir, SNAP_SUFFIX)) {
    logger.warn(`snap: removed an unfinished snapshot write: ${join(dir, stale)}`);
  }
  for (const { name } of await listSnaps(dir, options)) {
    const snap = await loadOrQuarantine(dir, name, logger);
    if (snap !== undefined && matches(snap)) return snap;
  }
  throw new SnapError('no-snapshot', ERR_NO_SNAPSHOT);
}

/**
 * The newest valid snapshot whose (term, index) is among `walSnaps` (the snapshot records of the WAL):
 * etcd's Snapshotter.LoadNewestAvailable. Damaged files met on the way are renamed to `.broken`.
 * Throws SnapError 'no-snapshot' ("snap: no available snapshot") when there is none.
 */
export function loadNewestAvailable(
  dir: string,
  walSnaps: readonly WalSnapshot[],
  options: SnapOptions = {},
): Promise<Snapshot> {
  return loadMatching(
    dir,
    (s) => walSnaps.some((w) => w.index === s.metadata.index && w.term === s.metadata.term),
    options,
  );
}

/** The newest valid snapshot regardless of the WAL (etcd's Snapshotter.Load). */
export function loadNewest(dir: string, options: SnapOptions = {}): Promise<Snapshot> {
  return loadMatching(dir, () => true, options);
}

/**
 * Keeps the newest `maxSnapshots` `.snap` files (and, separately, the newest `maxSnapshots`
 * `*.snap.db` files, as etcd's purge does) and deletes the older ones; returns the deleted names,
 * oldest first. `maxSnapshots` <= 0 keeps everything (etcd: `--max-snapshots 0` is unlimited).
 */
export async function purgeSnaps(
  dir: string,
  maxSnapshots = 5,
  options: SnapOptions = {},
): Promise<string[]> {
  if (maxSnapshots <= 0) return [];
  const removed: string[] = [];
  const snaps = (await listSnaps(dir, options)).reverse(); // oldest first
  const dbs = (await readdir(dir)).filter((n) => n.endsWith(SNAP_DB_SUFFIX)).sort();
  for (const doomed of [
    ...snaps.slice(0, Math.max(0, snaps.length - maxSnapshots)).map((s) => s.name),
    ...dbs.slice(0, Math.max(0, dbs.length - maxSnapshots)),
  ]) {
    await rm(join(dir, doomed), { force: true });
    removed.push(doomed);
  }
  return removed;
}
