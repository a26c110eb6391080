// Real `etcdctl` (Debian etcd-client, API v3) against running members, for the end-to-end tests.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { waitFor, type CairnCluster } from './cairn-cluster.js';

const run = promisify(execFile);
export const ETCDCTL = process.env.ETCDCTL_BIN ?? '/usr/bin/etcdctl';

export interface Output {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs etcdctl; rejects (with stdout/stderr on the error) when it exits non-zero. */
export async function etcdctlFull(endpoints: string, timeout: string, ...args: string[]): Promise<Output> {
  return run(ETCDCTL, ['--endpoints', endpoints, '--command-timeout', timeout, ...args], {
    env: { ETCDCTL_API: '3', PATH: process.env.PATH },
  });
}

export async function etcdctl(endpoints: string, ...args: string[]): Promise<string> {
  return (await etcdctlFull(endpoints, '10s', ...args)).stdout;
}

/** The error text of a failed etcdctl run (its stderr), or '' when it succeeded. */
export async function etcdctlError(endpoints: string, timeout: string, ...args: string[]): Promise<string> {
  try {
    await etcdctlFull(endpoints, timeout, ...args);
    return '';
  } catch (e) {
    return String((e as { stderr?: string }).stderr ?? e);
  }
}

interface StatusJson {
  Endpoint: string;
  Status: { header: { member_id: number | string }; leader: number | string };
}

/** The client endpoint of the member that is leader, once every running member agrees on one. */
export async function leaderOf(c: CairnCluster): Promise<string> {
  return waitFor('a leader', async () => {
    const out = await etcdctl(c.endpoints(), 'endpoint', 'status', '-w', 'json');
    // IDs exceed 2^53: compare them as the text etcdctl printed.
    const raw = out.replace(/("(?:member_id|leader)":)(\d+)/g, '$1"$2"');
    const statuses = JSON.parse(raw) as StatusJson[];
    const leaders = new Set(statuses.map((s) => String(s.Status.leader)));
    if (leaders.size !== 1 || leaders.has('0')) return undefined;
    const leader = statuses.find((s) => String(s.Status.header.member_id) === String(s.Status.leader));
    return leader?.Endpoint;
  });
}

/** Starts every member not running yet and waits for a leader. */
export async function started(c: CairnCluster): Promise<void> {
  for (const m of c.members) if (m.process === undefined) c.start(m);
  await leaderOf(c);
}

/** The endpoint (host:port) of a member, as etcdctl takes it. */
export function endpointOf(m: { readonly clientUrl: string }): string {
  return m.clientUrl.replace('http://', '');
}

/** The hex member ID that `member list` shows for the member named `name`. */
export async function memberIdOf(endpoints: string, name: string): Promise<string> {
  const list = await etcdctl(endpoints, 'member', 'list');
  const line = list.split('\n').find((l) => l.split(', ')[2] === name);
  if (line === undefined) throw new Error(`no member named ${name} in:\n${list}`);
  return line.split(', ')[0];
}

/** Waits until the member at `endpoint` serves `key` = `value` from its own state (serializable). */
export async function holds(endpoint: string, key: string, value: string, timeoutMs?: number): Promise<void> {
  await waitFor(
    `${endpoint} to hold ${key}`,
    async () =>
      (await etcdctl(endpoint, 'get', key, '--print-value-only', '--consistency', 's')) === `${value}\n`
        ? true
        : undefined,
    timeoutMs,
  );
}
