// snapshot save | status | restore (etcdctl 3.4; status and restore are also cairnutl's, as in etcdutl).
//
// save differs from etcdctl in two ways that only remove failure modes: the digest the member sends
// is checked against the bytes received before the file is kept, and a member that stops sending for
// --command-timeout ends the command instead of hanging it forever.

import { createHash } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

import { fsyncDir } from '../../storage/snap/atomic-file.js';
import { restoreSnapshot } from '../../server/restore.js';
import { RestoreError, snapshotStatus } from '../../server/snapshot-file.js';
import { InitialClusterError } from '../../membership/index.js';
import { goFileError } from '../go-errors.js';
import type { CommandSpec } from './command.js';
import { errorText, type Context } from './context.js';
import { ExitCode, fail } from './exit.js';
import type { FlagSpec } from './flags.js';
import { goJsonString, humanizeBytes } from './go-text.js';
import type { Output } from './output.js';

const SHA256_BYTES = 32;

/** One zap-style JSON log line on stderr, as etcdctl's snapshot commands write them. */
function logInfo(o: Output, msg: string, fields: Readonly<Record<string, unknown>> = {}): void {
  let line = `{"level":"info","ts":${(Date.now() / 1000).toFixed(7)},"msg":${goJsonString(msg)}`;
  for (const [k, v] of Object.entries(fields)) line += `,${goJsonString(k)}:${JSON.stringify(v)}`;
  o.err(`${line}}\n`);
}

/** Shows bytes received and the rate on a terminal, at most a few times a second. */
class Progress {
  private last = 0;
  private readonly started = Date.now();
  constructor(private readonly enabled: boolean) {}

  update(received: number, total: number | undefined): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 250) return;
    this.last = now;
    const seconds = Math.max((now - this.started) / 1000, 0.001);
    const rate = humanizeBytes(BigInt(Math.round(received / seconds)));
    const of = total === undefined ? '' : ` of ${humanizeBytes(BigInt(total))}`;
    process.stderr.write(`\r${humanizeBytes(BigInt(received))}${of} (${rate}/s)   `);
  }

  done(): void {
    if (this.enabled && this.last !== 0) process.stderr.write('\n');
  }
}

async function saveSnapshot(ctx: Context, path: string): Promise<void> {
  const endpoints = ctx.endpoints();
  if (endpoints.length !== 1) {
    fail(
      ExitCode.Error,
      `snapshot must be requested to one selected node, not multiple [${endpoints.join(' ')}]`,
    );
  }
  const client = await ctx.client();
  const partPath = `${path}.part`;
  await rm(partPath, { force: true });
  const file = await open(partPath, 'w', 0o600);
  logInfo(ctx.o, 'created temporary db file', { path: partPath });
  const idleMs = ctx.commandTimeoutMs;
  const abort = new AbortController();
  let idle: NodeJS.Timeout | undefined;
  const armIdle = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => abort.abort(), idleMs);
  };
  const progress = new Progress(process.stderr.isTTY === true);
  const started = Date.now();
  let kept = false;
  try {
    armIdle();
    const stream = await client.maintenance.snapshot({ signal: abort.signal, endpoint: endpoints[0] });
    logInfo(ctx.o, 'fetching snapshot', { endpoint: endpoints[0] });
    const digest = createHash('sha256');
    // The last 32 bytes received are the digest, not content: hold them back until the end.
    let tail: Buffer = Buffer.alloc(0);
    let received = 0;
    let total: number | undefined;
    for await (const r of stream) {
      armIdle();
      // An empty message is the member's sign of life while it builds the image.
      if (r.blob.byteLength === 0) continue;
      const blob = Buffer.from(r.blob.buffer, r.blob.byteOffset, r.blob.byteLength);
      const joined = tail.length === 0 ? blob : Buffer.concat([tail, blob]);
      const content = joined.subarray(0, Math.max(0, joined.length - SHA256_BYTES));
      tail = Buffer.from(joined.subarray(content.length));
      digest.update(content);
      await file.write(blob);
      received += blob.byteLength;
      total ??= received + Number(r.remainingBytes) + SHA256_BYTES;
      progress.update(received, total);
    }
    progress.done();
    if (tail.length !== SHA256_BYTES || received % 512 !== SHA256_BYTES) {
      fail(ExitCode.Error, `sha256 checksum not found [bytes: ${received}]`);
    }
    const got = digest.digest();
    if (!got.equals(tail)) {
      fail(
        ExitCode.Error,
        `snapshot data does not match its sha256 checksum: expected ${tail.toString('hex')}, got ${got.toString('hex')}`,
      );
    }
    await file.sync();
    await file.close();
    await rename(partPath, path);
    await fsyncDir(dirname(path));
    kept = true;
    const took = (Date.now() - started) / 1000;
    logInfo(ctx.o, 'fetched snapshot', {
      endpoint: endpoints[0],
      size: humanizeBytes(BigInt(received)),
      took,
    });
    logInfo(ctx.o, 'saved', { path });
    ctx.o.out(`Snapshot saved at ${path}\n`);
  } catch (e) {
    if (abort.signal.aborted) {
      fail(ExitCode.Error, `snapshot save: no data from the member for ${idleMs / 1000}s`);
    }
    throw e;
  } finally {
    clearTimeout(idle);
    if (!kept) {
      await file.close().catch(() => {});
      await rm(partPath, { force: true });
    }
  }
}

export const snapshotSaveCommand: CommandSpec = {
  name: 'save',
  usage: 'save <filename>',
  short: 'Stores an etcd node backend snapshot to a given file',
  run: async (ctx: Context) => {
    if (ctx.args.length !== 1) fail(ExitCode.BadArgs, 'snapshot save expects one argument');
    try {
      await saveSnapshot(ctx, ctx.args[0]);
    } catch (e) {
      fail(ExitCode.Error, errorText(e));
    }
  },
};

export const snapshotStatusCommand: CommandSpec = {
  name: 'status',
  usage: 'status <filename>',
  short: 'Gets backend snapshot status of a given file',
  run: async (ctx: Context) => {
    if (ctx.args.length !== 1) fail(ExitCode.BadArgs, 'snapshot status requires exactly one argument');
    const printer = ctx.display();
    let status;
    try {
      status = await snapshotStatus(ctx.args[0]);
    } catch (e) {
      fail(ExitCode.Error, goFileError(e));
    }
    printer.dbStatus(status);
  },
};

const RESTORE_FLAGS: readonly FlagSpec[] = [
  { name: 'data-dir', kind: 'string', def: '', usage: 'Path to the data directory' },
  {
    name: 'wal-dir',
    kind: 'string',
    def: '',
    usage: 'Path to the WAL directory (use --data-dir if none given)',
  },
  {
    name: 'initial-cluster',
    kind: 'string',
    def: 'default=http://localhost:2380',
    usage: 'Initial cluster configuration for restore bootstrap',
  },
  {
    name: 'initial-cluster-token',
    kind: 'string',
    def: 'etcd-cluster',
    usage: 'Initial cluster token for the etcd cluster during restore bootstrap',
  },
  {
    name: 'initial-advertise-peer-urls',
    kind: 'string',
    def: 'http://localhost:2380',
    usage: "List of this member's peer URLs to advertise to the rest of the cluster",
  },
  { name: 'name', kind: 'string', def: 'default', usage: 'Human-readable name for this member' },
  {
    name: 'skip-hash-check',
    kind: 'bool',
    def: 'false',
    usage: 'Ignore snapshot integrity hash value (required if copied from data directory)',
  },
  {
    name: 'bump-revision',
    kind: 'string',
    def: '0',
    usage: 'How much to increase the latest revision after restore',
  },
  {
    name: 'mark-compacted',
    kind: 'bool',
    def: 'false',
    usage:
      'Mark the latest revision after restore as the point of scheduled compaction (required if --bump-revision > 0, disallowed otherwise)',
  },
];

export const snapshotRestoreCommand: CommandSpec = {
  name: 'restore',
  usage: 'restore <filename> [options]',
  short: 'Restores an etcd member snapshot to an etcd directory',
  flags: RESTORE_FLAGS,
  run: async (ctx: Context) => {
    if (ctx.args.length !== 1) fail(ExitCode.BadArgs, 'snapshot restore requires exactly one argument');
    const name = ctx.flags.string('name');
    const dataDir = ctx.flags.string('data-dir') === '' ? `${name}.etcd` : ctx.flags.string('data-dir');
    const bumpText = ctx.flags.string('bump-revision');
    const bump = /^[0-9]+$/.test(bumpText) ? Number(bumpText) : NaN;
    if (!Number.isSafeInteger(bump)) {
      fail(
        ExitCode.Error,
        `invalid argument "${bumpText}" for "--bump-revision" flag: strconv.ParseUint: parsing "${bumpText}": invalid syntax`,
      );
    }
    const markCompacted = ctx.flags.bool('mark-compacted');
    if (markCompacted && bump === 0)
      fail(ExitCode.Error, '--mark-compacted is disallowed if --bump-revision is 0');
    try {
      await restoreSnapshot({
        snapshotPath: ctx.args[0],
        name,
        dataDir,
        walDir: ctx.flags.string('wal-dir'),
        initialCluster: ctx.flags.string('initial-cluster'),
        initialClusterToken: ctx.flags.string('initial-cluster-token'),
        initialAdvertisePeerUrls: ctx.flags
          .string('initial-advertise-peer-urls')
          .split(',')
          .filter((u) => u !== ''),
        skipHashCheck: ctx.flags.bool('skip-hash-check'),
        bumpRevision: bump,
        markCompacted,
        log: (msg, fields) => logInfo(ctx.o, msg, fields),
      });
    } catch (e) {
      if (e instanceof RestoreError || e instanceof InitialClusterError) fail(ExitCode.Error, e.message);
      fail(ExitCode.Error, goFileError(e));
    }
  },
};

export const snapshotCommand: CommandSpec = {
  name: 'snapshot',
  usage: 'snapshot <subcommand>',
  short: 'Manages etcd node snapshots',
  children: [snapshotSaveCommand, snapshotRestoreCommand, snapshotStatusCommand],
};

/** cairnutl's snapshot command: only the offline subcommands (etcdutl has no save). */
export const offlineSnapshotCommand: CommandSpec = {
  name: 'snapshot',
  usage: 'snapshot <subcommand>',
  short: 'Manages etcd node snapshots',
  children: [snapshotRestoreCommand, snapshotStatusCommand],
};
