// Shared pieces of the client-port tests: a Cairn client port over the fake member, HTTP calls that
// keep status and exact body bytes, the real etcdctl, and normalising the IDs that differ between
// two clusters so bodies can be compared byte for byte.

import { spawn } from 'node:child_process';
import { request } from 'node:http';

import { startClientPort, type ClientPort } from '../../../src/api/index.js';
import type { ServerApi } from '../../../src/server/api.js';
import { CLUSTER_ID, MEMBER_ID, startFakeMember, type FakeMember } from './fake-member.js';

export interface TestContext {
  after(fn: () => Promise<void>): void;
}

export interface Cairn {
  readonly member: FakeMember;
  readonly port: ClientPort;
  /** host:port */
  readonly endpoint: string;
  readonly url: string;
}

export interface CairnOptions {
  readonly maxRequestBytes?: number;
  /** How often the port checks for a leader (default: the port's default). */
  readonly electionTimeoutMs?: number;
  /** Server keepalive pings (default: the port's default, 2 h). */
  readonly keepaliveTimeMs?: number;
  /** Replaces some of the member's answers (to inject failures). */
  readonly override?: (api: ServerApi) => Partial<ServerApi>;
}

export async function startCairn(t: TestContext, options: CairnOptions = {}): Promise<Cairn> {
  const member = startFakeMember(t);
  const api: ServerApi = { ...member.api, ...options.override?.(member.api) };
  const port = await startClientPort({
    api,
    listenUrls: ['http://127.0.0.1:0'],
    maxRequestBytes: options.maxRequestBytes ?? 1572864,
    electionTimeoutMs: options.electionTimeoutMs,
    keepaliveTimeMs: options.keepaliveTimeMs,
    logger: { info() {}, warn() {} },
  });
  // Registered after the member's, so it runs first (node:test runs `after` hooks in reverse).
  t.after(() => port.close());
  const endpoint = `127.0.0.1:${port.addresses[0].port}`;
  member.setClientUrls([`http://${endpoint}`]);
  return { member, port, endpoint, url: `http://${endpoint}` };
}

export interface HttpReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

export function http(
  url: string,
  path: string,
  options: { method?: string; body?: string } = {},
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: options.method ?? 'POST', timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`http ${path}: timeout`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * POSTs to a streaming route and collects response lines until `lines` have arrived, or until `ms`
 * passed (whichever first); then the request is aborted.
 */
export function streamLines(
  url: string,
  path: string,
  body: string,
  lines: number,
  ms = 3000,
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const got: string[] = [];
    let rest = '';
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(got);
    };
    const timer = setTimeout(finish, ms);
    const req = request(`${url}${path}`, { method: 'POST' }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        rest += c;
        let i: number;
        while ((i = rest.indexOf('\n')) >= 0) {
          got.push(rest.slice(0, i));
          rest = rest.slice(i + 1);
        }
        if (got.length >= lines) finish();
      });
      res.on('end', () => {
        if (rest !== '') got.push(rest);
        finish();
      });
    });
    req.on('error', (e) => (done ? undefined : reject(e)));
    // The whole body at once, as curl -d sends it: etcd's gateway answers only once the body is in.
    req.end(body);
  });
}

export interface CtlResult {
  readonly code: number;
  readonly stdout: string;
  /** Only etcdctl's own `Error: ...` lines (the client logger's JSON lines carry timestamps). */
  readonly errors: string;
}

export function etcdctl(
  endpoint: string,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<CtlResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], ETCDCTL_API: '3' };
    const child = spawn('/usr/bin/etcdctl', [`--endpoints=${endpoint}`, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 10_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const errors = stderr
        .split('\n')
        .filter((l) => l.startsWith('Error:'))
        .join('\n');
      resolve({ code: code ?? (signal === null ? -1 : 128), stdout, errors });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** The IDs of one cluster, to be replaced by the same placeholders for either cluster. */
export interface Ids {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  readonly endpoint: string;
}

export const CAIRN_IDS = (endpoint: string): Ids => ({
  clusterId: CLUSTER_ID,
  memberId: MEMBER_ID,
  endpoint,
});

export function normalize(text: string, ids: Ids): string {
  return text
    .split(ids.endpoint)
    .join('ENDPOINT')
    .split(ids.clusterId.toString())
    .join('CLUSTER')
    .split(ids.memberId.toString())
    .join('MEMBER')
    .split(ids.memberId.toString(16))
    .join('MEMBERHEX')
    .replace(/"raft_term":"\d+"/g, '"raft_term":"T"');
}

/** A real etcd's IDs, read from its gateway (member list has both). */
export async function realIds(url: string, endpoint: string): Promise<Ids> {
  const r = await http(url, '/v3/cluster/member/list', { body: '{}' });
  const j = JSON.parse(r.body) as { header: { cluster_id: string; member_id: string } };
  return { clusterId: BigInt(j.header.cluster_id), memberId: BigInt(j.header.member_id), endpoint };
}
