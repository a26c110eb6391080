// Streams that require a leader (`hasleader=true`) are cancelled when the member has been without
// one for MAX_NO_LEADER_CHECKS consecutive election timeouts, as etcd's monitorLeader does: the
// counting on its own (checks driven by hand), then through gRPC with a short election timeout,
// where the checks are observed by counting the port's calls of hasLeader(), never by the clock.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Client, credentials, Metadata, status as Status, type ClientDuplexStream } from '@grpc/grpc-js';

import { LeaderMonitor, MAX_NO_LEADER_CHECKS } from '../../../src/api/leader-monitor.js';
import {
  KVService,
  LeaseService,
  PutRequest,
  WatchService,
  type LeaseKeepAliveRequest,
  type LeaseKeepAliveResponse,
  type WatchRequest,
  type WatchResponse,
} from '../../../src/proto/etcdserverpb/rpc.js';
import { startCairn, type Cairn } from './helpers.js';

test('monitor: streams are cancelled on the third consecutive check without a leader, not before', () => {
  assert.equal(MAX_NO_LEADER_CHECKS, 3);
  let leader = true;
  const monitor = new LeaderMonitor(() => leader);
  const cancelled: string[] = [];
  // A copy per assertion: deepEqual narrows its argument's type, which would outlive the call.
  const seen = (): string[] => [...cancelled];
  monitor.track(() => cancelled.push('a'));
  const untrackB = monitor.track(() => cancelled.push('b'));
  monitor.track(() => cancelled.push('c'));
  untrackB(); // b ended by itself

  leader = false;
  monitor.check();
  monitor.check();
  leader = true;
  monitor.check(); // the leader is back: the count starts over
  leader = false;
  monitor.check();
  monitor.check();
  assert.deepEqual(seen(), [], 'two misses in a row are not enough');
  assert.equal(monitor.size, 2);
  monitor.check();
  assert.deepEqual(seen(), ['a', 'c']);
  assert.equal(monitor.size, 0, 'cancelled streams are no longer watched');
  monitor.check();
  assert.deepEqual(seen(), ['a', 'c'], 'each stream is cancelled once');

  // Still no leader: a stream registered now goes at the next check (etcd keeps counting).
  monitor.track(() => cancelled.push('d'));
  monitor.check();
  assert.deepEqual(seen(), ['a', 'c', 'd']);

  leader = true;
  monitor.check();
  monitor.track(() => cancelled.push('e'));
  monitor.close();
  leader = false;
  for (let i = 0; i < 5; i++) monitor.check();
  assert.deepEqual(seen(), ['a', 'c', 'd'], 'close() forgets the streams');
});

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));

const hasLeaderMd = (): Metadata => {
  const md = new Metadata();
  md.set('hasleader', 'true');
  return md;
};

interface OpenStream<Req, Res> {
  readonly got: Res[];
  /** Resolves with the next response. */
  next(): Promise<Res>;
  /** Resolves with the call's error status once it fails. */
  readonly failed: Promise<{ code: number; details: string }>;
  readonly call: ClientDuplexStream<Req, Res>;
}

function open<Req, Res>(
  client: Client,
  def: {
    path: string;
    requestSerialize: (r: Req) => Buffer;
    responseDeserialize: (b: Buffer) => Res;
  },
  md?: Metadata,
): OpenStream<Req, Res> {
  const call = client.makeBidiStreamRequest<Req, Res>(
    def.path,
    def.requestSerialize,
    def.responseDeserialize,
    md ?? new Metadata(),
  );
  const got: Res[] = [];
  const waiting: ((r: Res) => void)[] = [];
  call.on('data', (r: Res) => {
    const w = waiting.shift();
    if (w !== undefined) w(r);
    else got.push(r);
  });
  const failed = new Promise<{ code: number; details: string }>((resolve) =>
    call.on('error', (e: { code: number; details: string }) => resolve({ code: e.code, details: e.details })),
  );
  const next = (): Promise<Res> => {
    const r = got.shift();
    return r !== undefined ? Promise.resolve(r) : new Promise((resolve) => waiting.push(resolve));
  };
  return { got, next, failed, call };
}

const watchCreate = (key: string): WatchRequest => ({
  requestUnion: {
    $case: 'createRequest',
    value: {
      key: bytes(key),
      rangeEnd: new Uint8Array(0),
      startRevision: 0n,
      progressNotify: false,
      filters: [],
      prevKv: false,
      watchId: 0n,
      fragment: false,
    },
  },
});

async function openWatch(
  client: Client,
  key: string,
  md?: Metadata,
): Promise<OpenStream<WatchRequest, WatchResponse>> {
  const s = open<WatchRequest, WatchResponse>(client, WatchService.watch, md);
  s.call.write(watchCreate(key));
  const created = await s.next();
  assert.equal(created.created, true);
  return s;
}

function put(client: Client, key: string): Promise<void> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      KVService.put.path,
      KVService.put.requestSerialize,
      KVService.put.responseDeserialize,
      PutRequest.fromPartial({ key: bytes(key), value: bytes('v') }),
      (err) => (err === null ? resolve() : reject(err)),
    ),
  );
}

/**
 * A port whose hasLeader() answers from `script` while it has entries (then true), logging every
 * answer: the monitor is the only caller while no stream is being opened.
 */
async function scripted(t: Parameters<typeof startCairn>[0]): Promise<{
  cairn: Cairn;
  client: Client;
  answers: boolean[];
  run(script: boolean[]): Promise<void>;
  setLeader(has: boolean): void;
}> {
  let script: boolean[] = [];
  let onEmpty: (() => void) | undefined;
  let leader = true;
  const answers: boolean[] = [];
  const cairn = await startCairn(t, {
    electionTimeoutMs: 5,
    override: () => ({
      hasLeader: () => {
        let a = leader;
        if (script.length > 0) {
          a = script.shift() as boolean;
          if (script.length === 0) onEmpty?.();
        }
        answers.push(a);
        return a;
      },
    }),
  });
  const client = new Client(cairn.endpoint, credentials.createInsecure());
  t.after(async () => client.close());
  return {
    cairn,
    client,
    answers,
    run: (s) =>
      new Promise<void>((resolve) => {
        onEmpty = resolve;
        script = [...s];
      }),
    setLeader: (has) => void (leader = has),
  };
}

const LIMIT = { timeout: 20_000 };

test(
  'gRPC: leaderless, hasleader watch and keepalive streams end with "no leader"; others stay',
  LIMIT,
  async (t) => {
    const s = await scripted(t);
    const { client } = s;
    const required = await openWatch(client, 'k', hasLeaderMd());
    const plain = await openWatch(client, 'k');
    const keepAlive = open<LeaseKeepAliveRequest, LeaseKeepAliveResponse>(
      client,
      LeaseService.leaseKeepAlive,
      hasLeaderMd(),
    );
    keepAlive.call.write({ ID: 7n });
    assert.equal((await keepAlive.next()).TTL, 0n, 'the keepalive stream is up');

    const before = s.answers.length;
    s.setLeader(false);
    const [watchError, keepAliveError] = await Promise.all([required.failed, keepAlive.failed]);
    assert.deepEqual(watchError, { code: Status.UNAVAILABLE, details: 'etcdserver: no leader' });
    assert.deepEqual(keepAliveError, { code: Status.UNAVAILABLE, details: 'etcdserver: no leader' });
    const misses = s.answers.slice(before).filter((a) => !a).length;
    assert.ok(misses >= 3, `cancelled after ${misses} checks without a leader`);

    // The stream without the metadata is still served (the fake member applies writes without raft).
    await put(client, 'k');
    const event = await plain.next();
    assert.equal(event.events.length, 1);
    assert.equal(Buffer.from(event.events[0].kv?.key ?? []).toString(), 'k');
    // The cancelled watch released its watcher; the plain one keeps its own.
    assert.equal(s.cairn.member.state.watchable.watcherCount, 1);
    plain.call.cancel();
  },
);

test('gRPC: a leader back before the third check keeps hasleader streams open', LIMIT, async (t) => {
  const s = await scripted(t);
  const { client } = s;
  const required = await openWatch(client, 'k', hasLeaderMd());

  // Leaderless runs of two, each broken by a check that finds the leader again.
  await s.run([false, false, true, false, false, true, false, false, true, false, false, true]);
  await put(client, 'k');
  const outcome = await Promise.race([
    required.next().then((event) => ({ event })),
    required.failed.then((failure) => ({ failure })),
  ]);
  assert.ok('event' in outcome, 'the hasleader stream was cancelled');
  assert.equal(outcome.event.events.length, 1, 'the hasleader watch still delivers events');
  required.call.cancel();
});
