// etcd's corruption-check rules (etcdserver/corrupt.go, 3.4) and the two checks built on them, with
// peers answering from fakes.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  CorruptionMonitor,
  checkFollowers,
  compareInitial,
  initialCorruptCheck,
  type KeyspaceHash,
  type MonitorOptions,
  type PeerHash,
  type PeerHashAnswer,
  type PeerHashSource,
} from '../../../src/server/corrupt-check.js';

const LEADER = 0x1n;
const F1 = 0x2n;
const F2 = 0x3n;

const h = (revision: number, hash: number, compactRevision = -1): KeyspaceHash => ({
  revision,
  compactRevision,
  hash,
});
const ok = (revision: number, hash: number, compactRevision = -1): PeerHashAnswer => ({
  kind: 'ok',
  ...h(revision, hash, compactRevision),
});
const peer = (id: bigint, answer: PeerHashAnswer): PeerHash => ({
  id,
  peerUrls: [`http://m${id}`],
  answer,
});

interface Line {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields?: Readonly<Record<string, unknown>>;
}

function recorder(): { lines: Line[]; info: LogFn; warn: LogFn; error: LogFn } {
  const lines: Line[] = [];
  const at =
    (level: Line['level']): LogFn =>
    (message, fields) =>
      lines.push({ level, message, fields });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}
type LogFn = (message: string, fields?: Readonly<Record<string, unknown>>) => void;

describe('the initial check rule (compareInitial)', () => {
  const local = h(10, 111, 4);
  it('equal hashes are consistent, whatever the peer revision (it hashed at ours)', () => {
    assert.equal(compareInitial(local, ok(10, 111, 4)), 'consistent');
    assert.equal(compareInitial(local, ok(15, 111, 4)), 'consistent');
  });
  it('another hash at the same compact revision is a mismatch; at another one it is skipped', () => {
    assert.equal(compareInitial(local, ok(10, 222, 4)), 'mismatch');
    assert.equal(compareInitial(local, ok(12, 222, 4)), 'mismatch');
    assert.equal(compareInitial(local, ok(10, 222, 6)), 'compact-revision-differs');
  });
  it('a peer behind, compacted past us, or unreachable is no verdict', () => {
    assert.equal(compareInitial(local, { kind: 'future-revision', message: '' }), 'peer-behind');
    assert.equal(compareInitial(local, { kind: 'compacted', message: '' }), 'local-behind');
    assert.equal(compareInitial(local, { kind: 'failed', message: 'refused' }), 'unreachable');
  });
});

describe("the leader's rules (checkFollowers)", () => {
  it('agreeing followers: nothing found, all counted', () => {
    const r = checkFollowers(LEADER, h(10, 5), h(10, 5), [peer(F1, ok(10, 5)), peer(F2, ok(10, 5))]);
    assert.deepEqual(r, { findings: [], checked: 2, corrupt: undefined });
  });

  it('a follower with another hash at the same compact revision is corrupt', () => {
    const r = checkFollowers(LEADER, h(10, 5), h(10, 5), [peer(F1, ok(10, 5)), peer(F2, ok(10, 6))]);
    assert.equal(r.corrupt, F2);
    assert.deepEqual(
      r.findings.map((f) => f.kind),
      ['hash-mismatch'],
    );
  });

  it('compares at the leader revision: a follower that moved on since is still compared', () => {
    // Asked at 10, the follower hashed up to 10; it is at 11 now, and so is the leader after its read.
    const r = checkFollowers(LEADER, h(10, 5), h(11, 9), [peer(F1, ok(11, 6))]);
    assert.equal(r.corrupt, F1);
    const same = checkFollowers(LEADER, h(10, 5), h(11, 9), [peer(F1, ok(11, 5))]);
    assert.equal(same.corrupt, undefined);
  });

  it('a follower with another compact revision is not compared; one compacted ahead is corrupt', () => {
    const behind = checkFollowers(LEADER, h(10, 5, 4), h(10, 5, 4), [peer(F1, ok(10, 7, 2))]);
    assert.deepEqual(behind, { findings: [], checked: 1, corrupt: undefined });
    const ahead = checkFollowers(LEADER, h(10, 5, 4), h(10, 5, 4), [peer(F1, ok(10, 7, 6))]);
    assert.equal(ahead.corrupt, F1);
    assert.deepEqual(
      ahead.findings.map((f) => f.kind),
      ['follower-compact-revision-ahead'],
    );
  });

  it('a follower ahead of the leader (after its linearizable read) is corrupt', () => {
    const r = checkFollowers(LEADER, h(10, 5), h(10, 5), [peer(F1, ok(12, 5))]);
    assert.equal(r.corrupt, F1);
    assert.deepEqual(
      r.findings.map((f) => f.kind),
      ['follower-revision-ahead'],
    );
  });

  it('followers behind the revision or unreachable are skipped and not counted', () => {
    const r = checkFollowers(LEADER, h(10, 5), h(10, 5), [
      peer(F1, { kind: 'future-revision', message: 'mvcc: required revision is a future revision' }),
      peer(F2, { kind: 'failed', message: 'connection refused' }),
    ]);
    assert.deepEqual(r, { findings: [], checked: 0, corrupt: undefined });
  });

  it("the leader's own hash changing at an unchanged revision names the leader, first", () => {
    const r = checkFollowers(LEADER, h(10, 5), h(10, 8), [peer(F1, ok(10, 6))]);
    assert.equal(r.corrupt, LEADER);
    assert.deepEqual(
      r.findings.map((f) => f.kind),
      ['leader-hash-changed', 'hash-mismatch'],
    );
    // A new write in between explains a new hash.
    assert.equal(checkFollowers(LEADER, h(10, 5), h(11, 8), []).corrupt, undefined);
  });

  it('only the first finding is alarmed, in member order', () => {
    const r = checkFollowers(LEADER, h(10, 5), h(10, 5), [peer(F1, ok(10, 6)), peer(F2, ok(10, 7))]);
    assert.equal(r.corrupt, F1);
    assert.equal(r.findings.length, 2);
  });
});

function source(
  answers: ReadonlyMap<string, PeerHashAnswer>,
  log: ReturnType<typeof recorder>,
  asked: { url: string; revision: number }[] = [],
): PeerHashSource {
  return {
    memberId: LEADER,
    peers: () => [
      { id: LEADER, peerUrls: ['http://m1'] },
      { id: F1, peerUrls: ['http://m2a', 'http://m2b'] },
      { id: F2, peerUrls: ['http://m3'] },
    ],
    fetch: async (url, revision) => {
      asked.push({ url, revision });
      return answers.get(url) ?? { kind: 'failed', message: 'connect ECONNREFUSED' };
    },
    timeoutMs: 1000,
    logger: log,
  };
}

describe('the initial check', () => {
  it('passes when every comparable peer agrees, trying each URL of a peer in turn', async () => {
    const log = recorder();
    const asked: { url: string; revision: number }[] = [];
    const answers = new Map([
      ['http://m2b', ok(10, 5)],
      ['http://m3', ok(12, 5)],
    ]);
    assert.equal(await initialCorruptCheck(source(answers, log, asked), h(10, 5)), true);
    // Peers are asked at the same time; each one's URLs one after the other.
    const urls = asked.map((a) => `${a.url}@${a.revision}`);
    assert.deepEqual([...urls].sort(), ['http://m2a@10', 'http://m2b@10', 'http://m3@10']);
    assert.ok(urls.indexOf('http://m2a@10') < urls.indexOf('http://m2b@10'));
    assert.deepEqual(
      log.lines.map((l) => l.message),
      [
        'starting initial corruption check',
        'failed hash kv request',
        'initial corruption checking passed; no corruption',
      ],
    );
  });

  it('passes with peers unreachable, behind, or compacted differently', async () => {
    const log = recorder();
    const answers = new Map<string, PeerHashAnswer>([
      ['http://m2a', { kind: 'future-revision', message: 'mvcc: required revision is a future revision' }],
      ['http://m3', ok(10, 6, 3)],
    ]);
    assert.equal(await initialCorruptCheck(source(answers, log), h(10, 5)), true);
    const messages = log.lines.map((l) => l.message);
    assert.ok(messages.includes('cannot fetch hash from slow remote peer'));
    assert.ok(messages.includes('found different compact revision values from remote peer'));
    assert.equal(messages.at(-1), 'initial corruption checking passed; no corruption');
  });

  it('fails on another hash at the same compact revision, logging both sides', async () => {
    const log = recorder();
    const answers = new Map([
      ['http://m2a', ok(10, 5)],
      ['http://m3', ok(10, 6)],
    ]);
    assert.equal(await initialCorruptCheck(source(answers, log), h(10, 5)), false);
    const warn = log.lines.find((l) => l.message === 'found different hash values from remote peer');
    assert.deepEqual(
      [
        warn?.fields?.['local-member-hash'],
        warn?.fields?.['remote-peer-hash'],
        warn?.fields?.['remote-peer-id'],
      ],
      [5, 6, '3'],
    );
    const last = log.lines.at(-1);
    assert.equal(last?.level, 'error');
    assert.equal(last?.message, '1 found data inconsistency with peers');
  });

  it('passes with no peers at all (as etcd, which logs it too)', async () => {
    const log = recorder();
    const alone = { ...source(new Map(), log), peers: () => [{ id: LEADER, peerUrls: ['http://m1'] }] };
    assert.equal(await initialCorruptCheck(alone, h(3, 1)), true);
  });
});

describe('the periodic check (CorruptionMonitor)', () => {
  function monitorOptions(over: Partial<MonitorOptions>, alarms: bigint[]): MonitorOptions {
    const log = recorder();
    return {
      ...source(
        new Map([
          ['http://m2a', ok(10, 5)],
          ['http://m3', ok(10, 6)],
        ]),
        log,
      ),
      intervalMs: 5,
      isLeader: () => true,
      localHash: () => h(10, 5),
      confirmApplied: async () => {},
      raiseAlarm: async (id) => void alarms.push(id),
      ...over,
    };
  }

  it('one round raises CORRUPT for the follower that differs', async () => {
    const alarms: bigint[] = [];
    const m = CorruptionMonitor.start({ ...monitorOptions({}, alarms), intervalMs: 60_000 });
    try {
      const r = await m.check();
      assert.equal(r?.corrupt, F2);
      assert.deepEqual(alarms, [F2]);
    } finally {
      m.stop();
    }
  });

  it('runs every interval on the leader only, and never after stop', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const alarms: bigint[] = [];
    let leader = false;
    let rounds = 0;
    let looks = 0;
    const m = CorruptionMonitor.start(
      monitorOptions(
        {
          intervalMs: 1000,
          isLeader: () => {
            looks++;
            return leader;
          },
          localHash: () => {
            rounds++;
            return h(10, 5);
          },
        },
        alarms,
      ),
    );
    const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
    try {
      t.mock.timers.tick(999);
      assert.equal(looks, 0);
      t.mock.timers.tick(1);
      // As a follower it only looks at its role.
      assert.deepEqual([looks, rounds], [1, 0]);
      leader = true;
      t.mock.timers.tick(1000);
      for (let i = 0; i < 5; i++) await settle();
      // One round: the leader's hash before and after its linearizable read.
      assert.deepEqual([looks, rounds, alarms], [2, 2, [F2]]);
      t.mock.timers.tick(1000);
      for (let i = 0; i < 5; i++) await settle();
      assert.deepEqual([looks, rounds, alarms], [3, 4, [F2, F2]]);
    } finally {
      m.stop();
    }
    t.mock.timers.tick(10_000);
    for (let i = 0; i < 5; i++) await settle();
    assert.deepEqual([looks, rounds, alarms.length], [3, 4, 2]);
  });

  it('a round that the member stops in the middle raises nothing', async () => {
    const alarms: bigint[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const m = CorruptionMonitor.start({
      ...monitorOptions({ confirmApplied: () => gate }, alarms),
      intervalMs: 60_000,
    });
    const round = m.check();
    m.stop();
    release();
    assert.equal(await round, undefined);
    assert.deepEqual(alarms, []);
  });
});
