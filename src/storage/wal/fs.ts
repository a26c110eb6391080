// The WAL's only access to files. Everything goes through WalFs/WalFile so that tests can substitute a
// file layer that tears writes, loses what was not synced and flips bits (test/unit/storage/wal/).
// NodeWalFs is the real one.

import fs from 'node:fs';
import path from 'node:path';
import { acquireLockFile, type LockHandle } from './lock.js';

/** An open file. Positions are absolute (pread/pwrite): there is no file offset state. */
export interface WalFile {
  /** Current length in bytes. */
  size(): number;
  /** Reads up to `buf.byteLength` bytes at `position`; returns how many were read (fewer only at EOF). */
  read(buf: Uint8Array, position: number): number;
  /** Writes all of `data` at `position`. */
  write(data: Uint8Array, position: number): void | Promise<void>;
  /** Makes the file's written data durable (fdatasync). */
  datasync(): void | Promise<void>;
  /** Makes data and metadata durable (fsync). */
  sync(): void | Promise<void>;
  truncate(length: number): void;
  close(): void;
}

export type OpenMode =
  /** existing file, read only */
  | 'r'
  /** existing file, read and write */
  | 'rw'
  /** create, or truncate to zero length, for read and write */
  | 'create';

export interface WalFs {
  open(file: string, mode: OpenMode): WalFile;
  /**
   * Extends `file` to `size` bytes of zeros that are really allocated on disk, so later overwrites
   * need no block allocation (see docs/storage.md, "WAL": preallocation). May run in the background
   * while other files are written; resolves when the zeros are durable.
   */
  preallocate(file: WalFile, size: number): Promise<void>;
  /** File names in `dir` (not paths); throws an error with code 'ENOENT' if `dir` does not exist. */
  readdir(dir: string): string[];
  exists(file: string): boolean;
  /** mkdir -p */
  mkdirp(dir: string): void;
  rename(from: string, to: string): void;
  unlink(file: string): void;
  /** rm -rf */
  removeAll(file: string): void;
  /** Copies `from` to a new file `to` and makes the copy durable. */
  copyFile(from: string, to: string): void;
  /** fsync of a directory: makes creations, renames and removals in it durable. */
  syncDir(dir: string): void | Promise<void>;
  /** Takes the exclusive lock of a WAL directory; throws WalLockedError if someone holds it. */
  lock(dir: string): LockHandle;
}

export type { LockHandle } from './lock.js';

/**
 * How NodeWalFs writes and syncs the WAL: 'async' (the default) runs fs.fdatasync, the fsyncs of a
 * segment cut or purge (file and directory) and writes above INLINE_WRITE_BYTES on libuv's thread
 * pool; 'sync' blocks the event loop in fs.writeSync, fs.fdatasyncSync and fs.fsyncSync (lower
 * latency per save on an idle loop, much worse under load). See docs/storage.md for the measurements.
 */
export type IoMode = 'sync' | 'async';

export interface NodeWalFsOptions {
  readonly io?: IoMode;
}

/**
 * In 'async' mode a write up to this size (a save's records, nearly always) is copied into the page
 * cache with fs.writeSync: the segment is preallocated and nothing is synced, so no disk is waited
 * for, and each save is spared a round trip through a pool thread before its fdatasync starts.
 * Measured (docs/storage.md): p50 of a 3-member put at 1 in flight 1.01 -> 0.83 ms.
 */
export const INLINE_WRITE_BYTES = 256 * 1024;
/** Bytes written per call when zero-filling a preallocated segment. */
const ZERO_CHUNK_BYTES = 1 << 20;
let zeroChunk: Uint8Array | undefined;

function zeros(): Uint8Array {
  zeroChunk ??= new Uint8Array(ZERO_CHUNK_BYTES);
  return zeroChunk;
}

class NodeWalFile implements WalFile {
  private fd: number;

  constructor(
    fd: number,
    private readonly io: IoMode,
  ) {
    this.fd = fd;
  }

  size(): number {
    return fs.fstatSync(this.fd).size;
  }

  read(buf: Uint8Array, position: number): number {
    let done = 0;
    while (done < buf.byteLength) {
      const n = fs.readSync(this.fd, buf, done, buf.byteLength - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  write(data: Uint8Array, position: number): void | Promise<void> {
    if (this.io === 'async' && data.byteLength > INLINE_WRITE_BYTES) return this.writeAsync(data, position);
    let done = 0;
    while (done < data.byteLength) {
      done += fs.writeSync(this.fd, data, done, data.byteLength - done, position + done);
    }
  }

  private async writeAsync(data: Uint8Array, position: number): Promise<void> {
    let done = 0;
    while (done < data.byteLength) {
      done += await new Promise<number>((resolve, reject) =>
        fs.write(this.fd, data, done, data.byteLength - done, position + done, (err, n) =>
          err ? reject(err) : resolve(n),
        ),
      );
    }
  }

  datasync(): void | Promise<void> {
    if (this.io === 'async') {
      return new Promise<void>((resolve, reject) =>
        fs.fdatasync(this.fd, (err) => (err ? reject(err) : resolve())),
      );
    }
    fs.fdatasyncSync(this.fd);
  }

  sync(): void | Promise<void> {
    if (this.io === 'async') {
      return new Promise<void>((resolve, reject) =>
        fs.fsync(this.fd, (err) => (err ? reject(err) : resolve())),
      );
    }
    fs.fsyncSync(this.fd);
  }

  truncate(length: number): void {
    fs.ftruncateSync(this.fd, length);
  }

  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    fs.closeSync(fd);
  }

  /** Zero-fills [from, size) with thread-pool writes, then fdatasync. */
  async zeroFill(from: number, size: number): Promise<void> {
    const chunk = zeros();
    for (let pos = from; pos < size;) {
      const n = Math.min(chunk.byteLength, size - pos);
      const written = await new Promise<number>((resolve, reject) =>
        fs.write(this.fd, chunk, 0, n, pos, (err, k) => (err ? reject(err) : resolve(k))),
      );
      pos += written;
    }
    await new Promise<void>((resolve, reject) =>
      fs.fdatasync(this.fd, (err) => (err ? reject(err) : resolve())),
    );
  }
}

const FLAGS: { readonly [M in OpenMode]: string } = { r: 'r', rw: 'r+', create: 'w+' };

/** The real file layer. */
export class NodeWalFs implements WalFs {
  private readonly io: IoMode;

  constructor(options: NodeWalFsOptions = {}) {
    this.io = options.io ?? DEFAULT_IO_MODE;
  }

  open(file: string, mode: OpenMode): WalFile {
    return new NodeWalFile(fs.openSync(file, FLAGS[mode], 0o600), this.io);
  }

  async preallocate(file: WalFile, size: number): Promise<void> {
    const current = file.size();
    if (current >= size) return;
    if (!(file instanceof NodeWalFile)) throw new TypeError('NodeWalFs.preallocate: not a NodeWalFs file');
    // Writing real zeros (rather than ftruncate, which leaves a hole) makes every later overwrite
    // in this file a pure data write: fdatasync then has no block allocation to commit.
    await file.zeroFill(current, size);
  }

  readdir(dir: string): string[] {
    return fs.readdirSync(dir);
  }

  exists(file: string): boolean {
    return fs.existsSync(file);
  }

  mkdirp(dir: string): void {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  rename(from: string, to: string): void {
    fs.renameSync(from, to);
  }

  unlink(file: string): void {
    fs.unlinkSync(file);
  }

  removeAll(file: string): void {
    fs.rmSync(file, { recursive: true, force: true });
  }

  copyFile(from: string, to: string): void {
    fs.copyFileSync(from, to);
    const fd = fs.openSync(to, 'r+');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  syncDir(dir: string): void | Promise<void> {
    if (this.io === 'async') return syncDirAsync(dir);
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  lock(dir: string): LockHandle {
    return acquireLockFile(path.join(dir, LOCK_FILE_NAME), dir);
  }
}

async function syncDirAsync(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The lock file inside a WAL directory (ignored by etcd, which only reads *.wal). */
export const LOCK_FILE_NAME = '.lock';

/**
 * Thread-pool I/O: measured better than blocking calls once the event loop has other work (it keeps
 * serving while an fdatasync runs); see docs/storage.md ("WAL", sync or async I/O).
 */
export const DEFAULT_IO_MODE: IoMode = 'async';
