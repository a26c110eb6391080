// Runs the same etcdctl command lines with real etcdctl against one fresh etcd (A) and with cairnctl
// against another fresh etcd (B), then compares stdout, stderr and exit code. Both servers go through the
// same history, so revisions agree; what differs by construction (ports, member/cluster/lease IDs) is
// mapped from B's values to A's before comparing, and per-run noise (log timestamps, client names,
// measured durations) is masked on both sides.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import assert from 'node:assert/strict';

import { startRealEtcd, type RealEtcd } from '../../support/real-etcd.js';

export const ETCDCTL = process.env['ETCDCTL_BIN'] ?? '/usr/bin/etcdctl';
/** bin/cairnctl of this checkout (the test runs from dist/test/unit/cairnctl). */
export const CAIRNCTL = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  '..',
  'bin',
  'cairnctl',
);

export interface RunResult {
  stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export interface RunOptions {
  readonly stdin?: string;
  readonly env?: Record<string, string>;
  /** Leave out the --endpoints flag (e.g. to pass endpoints through ETCDCTL_ENDPOINTS). */
  readonly noEndpoint?: boolean;
  /** Compare stderr and exit code only (flag errors, where etcdctl also prints its usage text). */
  readonly ignoreStdout?: boolean;
  /** Mask remaining lease TTLs (they count down on their own clock on each server). */
  readonly maskTtl?: boolean;
  /** Collapse runs of '-' and ' ' (tables whose column widths follow a measured duration). */
  readonly squash?: boolean;
}

export function runTool(bin: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('ETCDCTL_') && !k.startsWith('ETCD_')) env[k] = v;
  Object.assign(env, { ETCDCTL_API: '3', TZ: 'UTC' }, options.env ?? {});
  return new Promise((resolve) => {
    const child = execFile(
      bin,
      [...args],
      { env, encoding: 'latin1', timeout: 20_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ stdout, stderr, code });
      },
    );
    child.stdin?.end(options.stdin ?? '');
  });
}

/** Masks what differs between any two runs: log timestamps, clientv3 client names, measured durations. */
export function maskNoise(s: string): string {
  return s
    .replace(/"ts":"[^"]*"/g, '"ts":"TS"')
    .replace(/client-[0-9a-f-]{36}/g, 'client-UUID')
    .replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} /gm, 'DATE ')
    .replace(/took = [0-9.]+[a-zµ\u00c2\u00b5]+/g, 'took = T')
    .replace(/"took":"[0-9.]+[a-zµ\u00c2\u00b5]+"/g, '"took":"T"')
    .replace(/"Took" : [0-9.]+[a-zµ\u00c2\u00b5]+/g, '"Took" : T')
    .replace(/\| +[0-9.]+[a-zµ\u00c2\u00b5]+s \|/g, '| T |');
}

interface Ids {
  readonly clusterId: bigint;
  readonly memberId: bigint;
}

async function idsOf(etcd: RealEtcd): Promise<Ids> {
  const r = await runTool(ETCDCTL, [`--endpoints=${etcd.clientUrl}`, 'endpoint', 'status', '-w', 'json']);
  const m = /"cluster_id":(\d+),"member_id":(\d+)/.exec(r.stdout);
  assert.ok(m, `no ids in ${r.stdout} ${r.stderr}`);
  return { clusterId: BigInt(m[1]), memberId: BigInt(m[2]) };
}

export class Pair {
  /** B's text -> A's text, applied to B's output. */
  private readonly aliases: [string, string][] = [];
  /** A's text -> B's text, applied to the arguments of B's run (IDs the script names). */
  private readonly argAliases: [string, string][] = [];

  private constructor(
    readonly a: RealEtcd,
    readonly b: RealEtcd,
  ) {}

  static async start(t: { after(fn: () => Promise<void>): void }): Promise<Pair> {
    const [a, b] = await Promise.all([startRealEtcd(t), startRealEtcd(t)]);
    const pair = new Pair(a, b);
    const [ia, ib] = await Promise.all([idsOf(a), idsOf(b)]);
    pair.aliasId(ib.clusterId, ia.clusterId);
    pair.aliasId(ib.memberId, ia.memberId);
    pair.alias(`127.0.0.1:${b.clientPort}`, `127.0.0.1:${a.clientPort}`);
    pair.alias(`127.0.0.1:${b.peerPort}`, `127.0.0.1:${a.peerPort}`);
    return pair;
  }

  alias(fromB: string, toA: string): void {
    if (fromB !== toA) this.aliases.push([fromB, toA]);
  }

  /** Maps a 64-bit ID in every form etcdctl prints it: decimal, hex, %016x and %16x. */
  aliasId(fromB: bigint, toA: bigint): void {
    const hex = (v: bigint): string => v.toString(16);
    // The space-padded form (%16x) follows these words; map it first, as it can equal the zero-padded one.
    for (const word of ['Member ', 'cluster ']) {
      const [b, a] = [word + hex(fromB).padStart(16, ' '), word + hex(toA).padStart(16, ' ')];
      if (a !== b) this.aliases.unshift([b, a]);
    }
    // A 16-digit ID of B prints the same in %x and %016x; map it as %x (member and cluster IDs print
    // so), or a shorter ID of A would come out zero-padded where etcdctl prints it bare.
    // Likewise a 16-digit ID of B has no space-padded form of its own to map elsewhere (after the
    // words above it is mapped already).
    if (hex(fromB).length < 16) {
      this.alias(hex(fromB).padStart(16, '0'), hex(toA).padStart(16, '0'));
      this.alias(hex(fromB).padStart(16, ' '), hex(toA).padStart(16, ' '));
    }
    this.alias(fromB.toString(), toA.toString());
    this.alias(hex(fromB), hex(toA));
  }

  addArgAlias(fromA: string, toB: string): void {
    this.argAliases.push([fromA, toB]);
  }

  /** B's output with B's IDs and ports replaced by A's, noise masked. */
  normaliseOutput(s: string): string {
    return this.normalise(s);
  }

  private normalise(s: string): string {
    let out = s;
    for (const [from, to] of this.aliases) out = out.split(from).join(to);
    return maskNoise(out);
  }

  /** `lease grant <ttl>` with etcdctl on A and cairnctl on B; asserts the outputs agree up to the IDs. */
  async grantBoth(ttl: string, format: string): Promise<[bigint, bigint]> {
    const args = ['lease', 'grant', ttl, '-w', format];
    const [ra, rb] = await Promise.all([
      runTool(ETCDCTL, [`--endpoints=127.0.0.1:${this.a.clientPort}`, ...args]),
      runTool(CAIRNCTL, [`--endpoints=127.0.0.1:${this.b.clientPort}`, ...args]),
    ]);
    const id = (s: string): bigint => {
      const m = /lease ([0-9a-f]{16}) granted|"ID"\s?:\s?(\d+)/.exec(s);
      assert.ok(m, `no lease ID in ${s}`);
      return m[1] !== undefined ? BigInt(`0x${m[1]}`) : BigInt(m[2]);
    };
    const [a, b] = [id(ra.stdout), id(rb.stdout)];
    this.aliasId(b, a);
    this.argAliases.push([a.toString(16), b.toString(16)]);
    assert.deepEqual(
      { stdout: this.normalise(rb.stdout), stderr: this.normalise(rb.stderr), code: rb.code },
      { stdout: maskNoise(ra.stdout), stderr: maskNoise(ra.stderr), code: ra.code },
    );
    return [a, b];
  }

  /** Runs both tools against A (for read-only commands whose output cannot be mapped, e.g. protobuf). */
  async sameServer(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const full = [`--endpoints=127.0.0.1:${this.a.clientPort}`, ...args];
    const ra = await runTool(ETCDCTL, full, options);
    const rb = await runTool(CAIRNCTL, full, options);
    const squash = (x: string): string =>
      options.squash === true ? x.replace(/-+/g, '-').replace(/ +/g, ' ') : x;
    const masked = (r: RunResult): RunResult => ({
      stdout: squash(maskNoise(r.stdout)),
      stderr: maskNoise(r.stderr),
      code: r.code,
    });
    assert.deepEqual(masked(rb), masked(ra), `cairnctl ${args.join(' ')}`);
    return ra;
  }

  /** Runs etcdctl on A and cairnctl on B with the same arguments; asserts identical results. */
  async same(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const endpointArg = (e: RealEtcd): string[] =>
      options.noEndpoint === true ? [] : [`--endpoints=127.0.0.1:${e.clientPort}`];
    const envFor = (e: RealEtcd): Record<string, string> => {
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(options.env ?? {}))
        env[k] = v.split('@EP@').join(`127.0.0.1:${e.clientPort}`);
      return env;
    };
    const argsFor = (e: RealEtcd): string[] =>
      args.map((x) => {
        let out = x.split('@EP@').join(`127.0.0.1:${e.clientPort}`);
        if (e === this.b) for (const [from, to] of this.argAliases) out = out.split(from).join(to);
        return out;
      });
    // Separate servers: the two runs cannot disturb each other, so they run side by side.
    const [ra, rb] = await Promise.all([
      runTool(ETCDCTL, [...endpointArg(this.a), ...argsFor(this.a)], { ...options, env: envFor(this.a) }),
      runTool(CAIRNCTL, [...endpointArg(this.b), ...argsFor(this.b)], { ...options, env: envFor(this.b) }),
    ]);
    if (options.ignoreStdout === true) rb.stdout = ra.stdout;
    if (options.maskTtl === true) {
      const mask = (r: RunResult): void => {
        r.stdout = r.stdout.replace(/remaining\(\d+s\)/g, 'remaining(Ns)').replace(/"ttl":\d+/g, '"ttl":N');
        r.stdout = r.stdout.replace(/"TTL" : \d+\n"GrantedTTL"/g, '"TTL" : N\n"GrantedTTL"');
      };
      mask(ra);
      mask(rb);
    }
    const expected = { stdout: maskNoise(ra.stdout), stderr: maskNoise(ra.stderr), code: ra.code };
    const actual = { stdout: this.normalise(rb.stdout), stderr: this.normalise(rb.stderr), code: rb.code };
    assert.deepEqual(actual, expected, `cairnctl ${args.join(' ')}`);
    return ra;
  }
}
