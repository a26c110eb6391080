// A fault-injecting, in-memory WalFs for the WAL's crash and corruption tests.
//
// It models what survives a crash: every file has the bytes the process sees and the bytes that are
// durable; writes, truncations and preallocation become durable only through datasync/sync, and
// directory entries (creations, renames, removals) only through syncDir of their directory. crash()
// builds the disk as a fresh machine would find it, optionally applying some of the operations that
// were pending (not yet synced) — all of them, none, or a torn prefix or sector subset of a write.
// Other faults: stop at the N-th operation as if the process died there, make syncs silently do
// nothing (the process dies before they happen), fail syncs with EIO, flip bits at rest.

import path from 'node:path';
import type { LockHandle, OpenMode, WalFile, WalFs } from '../../../../src/storage/wal/fs.js';
import { WalLockedError } from '../../../../src/storage/wal/errors.js';

const p = path.posix;

/** An operation on a file's content that is not durable yet. */
export type PendingOp =
  | { readonly kind: 'write'; readonly seq: number; readonly pos: number; readonly data: Uint8Array }
  | { readonly kind: 'truncate'; readonly seq: number; readonly size: number };

class FileNode {
  readonly kind = 'file';
  cur: Uint8Array;
  size: number;
  durable: Uint8Array;
  pending: PendingOp[] = [];

  constructor(content: Uint8Array = new Uint8Array(0)) {
    this.cur = content.slice();
    this.size = content.byteLength;
    this.durable = content.slice();
  }

  content(): Uint8Array {
    return this.cur.subarray(0, this.size);
  }

  resize(size: number): void {
    if (size > this.cur.byteLength) {
      const next = new Uint8Array(Math.max(size, this.cur.byteLength * 2));
      next.set(this.cur.subarray(0, this.size));
      this.cur = next;
    } else if (size < this.size) {
      this.cur.fill(0, size, this.size);
    }
    this.size = size;
  }

  apply(op: PendingOp): void {
    if (op.kind === 'truncate') {
      this.resize(op.size);
      return;
    }
    if (op.pos + op.data.byteLength > this.size) this.resize(op.pos + op.data.byteLength);
    this.cur.set(op.data, op.pos);
  }

  sync(): void {
    this.durable = this.content().slice();
    this.pending = [];
  }
}

class DirNode {
  readonly kind = 'dir';
  entries = new Map<string, Node>();
  durable = new Map<string, Node>();
}

type Node = FileNode | DirNode;

function errno(code: string, message: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: ${message}`);
  e.code = code;
  return e;
}

/** Thrown by every operation once the simulated process has died (see `dieAfterOps`). */
export class ProcessDied extends Error {
  constructor() {
    super('the simulated process died');
    this.name = 'ProcessDied';
  }
}

export interface Faults {
  /** The process dies when this many more operations have run: the next one throws ProcessDied. */
  dieAfterOps: number;
  /** Syncs return without making anything durable (the process dies before they happen). */
  dropSyncs: boolean;
  /** datasync/sync throw EIO. */
  failSyncs: boolean;
  /** preallocate() only creates the file (files then grow by appending, as after a repair). */
  noPreallocate: boolean;
}

/** Which pending operations of a file reach the disk in a crash. Default: none. */
export type CrashPolicy = (file: string, pending: readonly PendingOp[]) => readonly PendingOp[];

class MemFile implements WalFile {
  private open = true;

  constructor(
    private readonly fs: MemFs,
    readonly node: FileNode,
    private readonly writable: boolean,
  ) {}

  private check(write: boolean): void {
    this.fs.tick();
    if (!this.open) throw errno('EBADF', 'file is closed');
    if (write && !this.writable) throw errno('EBADF', 'file is read-only');
  }

  size(): number {
    this.check(false);
    return this.node.size;
  }

  read(buf: Uint8Array, position: number): number {
    this.check(false);
    const n = Math.max(0, Math.min(buf.byteLength, this.node.size - position));
    buf.set(this.node.cur.subarray(position, position + n));
    return n;
  }

  write(data: Uint8Array, position: number): void {
    this.check(true);
    const op: PendingOp = { kind: 'write', seq: this.fs.nextSeq(), pos: position, data: data.slice() };
    this.node.apply(op);
    this.node.pending.push(op);
  }

  datasync(): void {
    this.sync();
  }

  sync(): void {
    this.check(false);
    if (this.fs.faults.failSyncs) throw errno('EIO', 'simulated I/O error on sync');
    this.fs.counters.syncs++;
    if (!this.fs.faults.dropSyncs) this.node.sync();
  }

  truncate(length: number): void {
    this.check(true);
    const op: PendingOp = { kind: 'truncate', seq: this.fs.nextSeq(), size: length };
    this.node.apply(op);
    this.node.pending.push(op);
  }

  close(): void {
    this.open = false;
  }
}

export class MemFs implements WalFs {
  readonly root = new DirNode();
  readonly faults: Faults = {
    dieAfterOps: Infinity,
    dropSyncs: false,
    failSyncs: false,
    noPreallocate: false,
  };
  readonly counters = { ops: 0, syncs: 0, writes: 0 };
  private seq = 0;
  private readonly locks = new Set<string>();

  /** Counts an operation; the simulated process dies when `faults.dieAfterOps` reaches zero. */
  tick(): void {
    if (this.faults.dieAfterOps <= 0) throw new ProcessDied();
    this.faults.dieAfterOps--;
    this.counters.ops++;
  }

  nextSeq(): number {
    this.counters.writes++;
    return ++this.seq;
  }

  // ---- paths ----

  private lookup(file: string): Node | undefined {
    let node: Node = this.root;
    for (const part of p
      .resolve(file)
      .split('/')
      .filter((s) => s !== '')) {
      if (node.kind !== 'dir') return undefined;
      const next = node.entries.get(part);
      if (next === undefined) return undefined;
      node = next;
    }
    return node;
  }

  private parentOf(file: string): { dir: DirNode; name: string } {
    const abs = p.resolve(file);
    const parent = this.lookup(p.dirname(abs));
    if (parent === undefined) throw errno('ENOENT', `no directory ${p.dirname(abs)}`);
    if (parent.kind !== 'dir') throw errno('ENOTDIR', p.dirname(abs));
    return { dir: parent, name: p.basename(abs) };
  }

  /** Test setup: mkdir -p with every level durable. */
  setupDir(dir: string): void {
    let node: DirNode = this.root;
    for (const part of p
      .resolve(dir)
      .split('/')
      .filter((s) => s !== '')) {
      let next = node.entries.get(part);
      if (next === undefined) {
        next = new DirNode();
        node.entries.set(part, next);
      }
      node.durable.set(part, next);
      if (next.kind !== 'dir') throw errno('ENOTDIR', dir);
      node = next;
    }
  }

  fileNode(file: string): FileNode {
    const n = this.lookup(file);
    if (n === undefined || n.kind !== 'file') throw errno('ENOENT', file);
    return n;
  }

  // ---- WalFs ----

  open(file: string, mode: OpenMode): WalFile {
    this.tick();
    const existing = this.lookup(file);
    if (mode === 'create') {
      if (existing !== undefined && existing.kind === 'file') {
        const op: PendingOp = { kind: 'truncate', seq: this.nextSeq(), size: 0 };
        existing.apply(op);
        existing.pending.push(op);
        return new MemFile(this, existing, true);
      }
      const { dir, name } = this.parentOf(file);
      const node = new FileNode();
      dir.entries.set(name, node);
      return new MemFile(this, node, true);
    }
    if (existing === undefined) throw errno('ENOENT', file);
    if (existing.kind !== 'file') throw errno('EISDIR', file);
    return new MemFile(this, existing, mode === 'rw');
  }

  async preallocate(file: WalFile, size: number): Promise<void> {
    if (this.faults.noPreallocate) return;
    if (file.size() >= size) return;
    file.write(new Uint8Array(size - file.size()), file.size());
    file.datasync();
  }

  readdir(dir: string): string[] {
    this.tick();
    const n = this.lookup(dir);
    if (n === undefined) throw errno('ENOENT', dir);
    if (n.kind !== 'dir') throw errno('ENOTDIR', dir);
    return [...n.entries.keys()];
  }

  exists(file: string): boolean {
    this.tick();
    return this.lookup(file) !== undefined;
  }

  mkdirp(dir: string): void {
    this.tick();
    let node: DirNode = this.root;
    for (const part of p
      .resolve(dir)
      .split('/')
      .filter((s) => s !== '')) {
      let next = node.entries.get(part);
      if (next === undefined) {
        next = new DirNode();
        node.entries.set(part, next);
      }
      if (next.kind !== 'dir') throw errno('ENOTDIR', dir);
      node = next;
    }
  }

  rename(from: string, to: string): void {
    this.tick();
    const src = this.parentOf(from);
    const node = src.dir.entries.get(src.name);
    if (node === undefined) throw errno('ENOENT', from);
    const dst = this.parentOf(to);
    const there = dst.dir.entries.get(dst.name);
    if (there !== undefined && there.kind === 'dir' && there.entries.size > 0) throw errno('ENOTEMPTY', to);
    src.dir.entries.delete(src.name);
    dst.dir.entries.set(dst.name, node);
  }

  unlink(file: string): void {
    this.tick();
    const { dir, name } = this.parentOf(file);
    const n = dir.entries.get(name);
    if (n === undefined) throw errno('ENOENT', file);
    if (n.kind !== 'file') throw errno('EISDIR', file);
    dir.entries.delete(name);
  }

  removeAll(file: string): void {
    this.tick();
    const abs = p.resolve(file);
    const parent = this.lookup(p.dirname(abs));
    if (parent !== undefined && parent.kind === 'dir') parent.entries.delete(p.basename(abs));
  }

  copyFile(from: string, to: string): void {
    this.tick();
    const src = this.fileNode(from);
    const { dir, name } = this.parentOf(to);
    dir.entries.set(name, new FileNode(src.content()));
  }

  syncDir(dir: string): void {
    this.tick();
    if (this.faults.failSyncs) throw errno('EIO', 'simulated I/O error on directory sync');
    const n = this.lookup(dir);
    if (n === undefined || n.kind !== 'dir') throw errno('ENOENT', dir);
    if (!this.faults.dropSyncs) n.durable = new Map(n.entries);
  }

  lock(dir: string): LockHandle {
    this.tick();
    const locks = this.locks;
    const key = p.resolve(dir);
    if (locks.has(key)) throw new WalLockedError(dir, 'this process (simulated)');
    locks.add(key);
    let held = key;
    let released = false;
    return {
      get path() {
        return p.join(held, '.lock');
      },
      relocate(newDir: string) {
        locks.delete(held);
        held = p.resolve(newDir);
        locks.add(held);
      },
      release() {
        if (released) return;
        released = true;
        locks.delete(held);
      },
    };
  }

  // ---- test helpers ----

  /** A file's current content (a copy). */
  read(file: string): Uint8Array {
    return this.fileNode(file).content().slice();
  }

  /** Names in a directory (no operation counted). */
  list(dir: string): string[] {
    const n = this.lookup(dir);
    if (n === undefined || n.kind !== 'dir') return [];
    return [...n.entries.keys()].sort();
  }

  /** Flips bit `bit` of byte `offset` of a file, at rest (current and durable content). */
  flipBit(file: string, offset: number, bit: number): void {
    const n = this.fileNode(file);
    n.cur[offset] ^= 1 << bit;
    if (offset < n.durable.byteLength) n.durable[offset] ^= 1 << bit;
  }

  /** Overwrites bytes of a file at rest. */
  overwrite(file: string, offset: number, data: Uint8Array): void {
    const n = this.fileNode(file);
    n.apply({ kind: 'write', seq: 0, pos: offset, data });
    n.sync();
  }

  /** Cuts a file at rest to `size` bytes. */
  truncateAtRest(file: string, size: number): void {
    const n = this.fileNode(file);
    n.resize(size);
    n.sync();
  }

  /** Every pending operation of every file reachable now, with the file's path. */
  pending(): { file: string; op: PendingOp }[] {
    const out: { file: string; op: PendingOp }[] = [];
    const walk = (dir: DirNode, at: string): void => {
      for (const [name, node] of dir.entries) {
        const full = p.join(at, name);
        if (node.kind === 'dir') walk(node, full);
        else for (const op of node.pending) out.push({ file: full, op });
      }
    };
    walk(this.root, '/');
    return out.sort((a, b) => a.op.seq - b.op.seq);
  }

  /**
   * The disk after a crash: directories as last synced, files as last synced plus the pending
   * operations `policy` lets through (in order). The result is a new MemFs with nothing pending,
   * no locks and no faults.
   */
  crash(policy: CrashPolicy = () => []): MemFs {
    const out = new MemFs();
    const files = new Map<FileNode, FileNode>();
    const dirs = new Map<DirNode, DirNode>();
    const pathsOf = new Map<FileNode, string>();
    const walkNow = (dir: DirNode, at: string): void => {
      for (const [name, node] of dir.entries) {
        const full = p.join(at, name);
        if (node.kind === 'dir') walkNow(node, full);
        else if (!pathsOf.has(node)) pathsOf.set(node, full);
      }
    };
    walkNow(this.root, '/');
    const cloneFile = (node: FileNode, at: string): FileNode => {
      let copy = files.get(node);
      if (copy === undefined) {
        copy = new FileNode(node.durable);
        for (const op of policy(pathsOf.get(node) ?? at, node.pending)) copy.apply(op);
        copy.sync();
        files.set(node, copy);
      }
      return copy;
    };
    const cloneDir = (node: DirNode, at: string, into: DirNode): void => {
      for (const [name, child] of node.durable) {
        const full = p.join(at, name);
        if (child.kind === 'file') {
          into.entries.set(name, cloneFile(child, full));
        } else {
          let copy = dirs.get(child);
          if (copy === undefined) {
            copy = new DirNode();
            dirs.set(child, copy);
            cloneDir(child, full, copy);
          }
          into.entries.set(name, copy);
        }
      }
      into.durable = new Map(into.entries);
    };
    cloneDir(this.root, '/', out.root);
    return out;
  }

  /** A deep copy of the current state (everything durable), for repeating an experiment. */
  clone(): MemFs {
    return this.crash((_, pending) => pending);
  }
}

/** Crash policies. */
export const crashes = {
  /** Only what was synced survives. */
  loseUnsynced: (): CrashPolicy => () => [],
  /** Everything reached the disk (the OS wrote all dirty pages back just before the crash). */
  keepAll: (): CrashPolicy => (_, pending) => pending,
  /**
   * Everything but the write with sequence number `seq`, of which only bytes [0, keep) reached the
   * disk (later operations of that file are dropped too).
   */
  tearWrite:
    (seq: number, keep: number): CrashPolicy =>
    (_, pending) => {
      const out: PendingOp[] = [];
      for (const op of pending) {
        if (op.seq < seq) out.push(op);
        else if (op.seq === seq && op.kind === 'write') {
          out.push({ ...op, data: op.data.subarray(0, keep) });
        }
      }
      return out;
    },
  /** Like tearWrite, but only the 512-byte sectors in `sectors` (file sector numbers) reached the disk. */
  sectorsOfWrite:
    (seq: number, sectors: ReadonlySet<number>): CrashPolicy =>
    (_, pending) => {
      const out: PendingOp[] = [];
      for (const op of pending) {
        if (op.seq < seq) out.push(op);
        else if (op.seq === seq && op.kind === 'write') {
          for (let s = Math.floor(op.pos / 512); s * 512 < op.pos + op.data.byteLength; s++) {
            if (!sectors.has(s)) continue;
            const from = Math.max(op.pos, s * 512);
            const to = Math.min(op.pos + op.data.byteLength, (s + 1) * 512);
            out.push({ ...op, pos: from, data: op.data.subarray(from - op.pos, to - op.pos) });
          }
        }
      }
      return out;
    },
};
