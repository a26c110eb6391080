// etcd's corruption checks (etcdserver/corrupt.go in 3.4): members compare the hash of their keyspace
// (HashKV) with their peers'. Pure comparison rules first, then the two checks that use them.
//
// - The initial check (--experimental-initial-corrupt-check): a restarting member, before it serves
//   clients, asks every peer for its hash at this member's current revision. A peer that answers with
//   another hash while at the same compact revision means the data differ: the member refuses to start.
//   A peer that has not reached the revision, is compacted past it, has compacted differently or does
//   not answer is logged and skipped.
// - The periodic check (--experimental-corrupt-check-time): every interval the leader takes its own
//   hash at its current revision, asks every follower for theirs at that revision, confirms with a
//   linearizable read that it has applied everything committed, and hashes again. It raises the CORRUPT
//   alarm through raft (once per round, for the first finding) when
//     * its own two hashes differ at an unchanged revision and compact revision (its own ID);
//     * a follower's current revision is ahead of the leader's second revision;
//     * a follower's compact revision is ahead of the leader's second compact revision;
//     * a follower at the leader's first compact revision has another hash at that revision.
//   A follower not yet at the revision answers "future revision" and is skipped, as is one whose
//   compact revision differs from the leader's (the hashes then cover different revisions).
//   The alarm names the follower (etcd 3.4.21-3.4.22); etcd 3.4.23 names member 0 instead, since the
//   leader cannot tell which side is wrong (etcd PR 14853).

import { formatId } from '../membership/index.js';

/** A keyspace hash as HashKV reports it. */
export interface KeyspaceHash {
  /** The member's current revision (HashKV's header revision). */
  readonly revision: number;
  readonly compactRevision: number;
  readonly hash: number;
}

/** A peer's answer to HashKV at a revision (etcd: a response, ErrFutureRev, ErrCompacted, other). */
export type PeerHashAnswer =
  | ({ readonly kind: 'ok' } & KeyspaceHash)
  | { readonly kind: 'future-revision' | 'compacted' | 'failed'; readonly message: string };

export interface PeerHash {
  readonly id: bigint;
  readonly peerUrls: readonly string[];
  readonly answer: PeerHashAnswer;
}

type Fields = Readonly<Record<string, unknown>>;

/** The member's logger; fields are kept where the logger takes them (the process's pino does). */
export interface CheckLogger {
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
}

// ---- The rules ----------------------------------------------------------------------------------

export type InitialVerdict =
  'consistent' | 'mismatch' | 'compact-revision-differs' | 'peer-behind' | 'local-behind' | 'unreachable';

/**
 * The initial check's rule for one peer asked for its hash at `local.revision` (etcd's
 * CheckInitialHashKV). The peer's own revision does not matter: its hash covers the same revisions.
 */
export function compareInitial(local: KeyspaceHash, answer: PeerHashAnswer): InitialVerdict {
  switch (answer.kind) {
    case 'ok':
      if (answer.hash === local.hash) return 'consistent';
      return answer.compactRevision === local.compactRevision ? 'mismatch' : 'compact-revision-differs';
    case 'future-revision':
      return 'peer-behind';
    case 'compacted':
      return 'local-behind';
    default:
      return 'unreachable';
  }
}

export type Finding =
  | {
      readonly kind: 'leader-hash-changed';
      readonly memberId: bigint;
      readonly first: KeyspaceHash;
      readonly second: KeyspaceHash;
    }
  | {
      readonly kind: 'follower-revision-ahead';
      readonly memberId: bigint;
      readonly leaderRevision: number;
      readonly followerRevision: number;
    }
  | {
      readonly kind: 'follower-compact-revision-ahead';
      readonly memberId: bigint;
      readonly leaderCompactRevision: number;
      readonly followerCompactRevision: number;
    }
  | {
      readonly kind: 'hash-mismatch';
      readonly memberId: bigint;
      readonly revision: number;
      readonly compactRevision: number;
      readonly leaderHash: number;
      readonly followerHash: number;
    };

export interface LeaderCheck {
  /** Everything found, in etcd's order (the leader's own hashes, then each follower's three rules). */
  readonly findings: readonly Finding[];
  /** Followers that answered with a hash. */
  readonly checked: number;
  /** The member the CORRUPT alarm is raised for: the first finding's, undefined if none. */
  readonly corrupt: bigint | undefined;
}

/**
 * The periodic check's rules (etcd's checkHashKV): `first` is the leader's hash before asking the
 * followers (at whose revision they were asked), `second` the one after its linearizable read.
 */
export function checkFollowers(
  leaderId: bigint,
  first: KeyspaceHash,
  second: KeyspaceHash,
  peers: readonly PeerHash[],
): LeaderCheck {
  const findings: Finding[] = [];
  if (
    first.hash !== second.hash &&
    first.revision === second.revision &&
    first.compactRevision === second.compactRevision
  ) {
    findings.push({ kind: 'leader-hash-changed', memberId: leaderId, first, second });
  }
  let checked = 0;
  for (const p of peers) {
    const a = p.answer;
    if (a.kind !== 'ok') continue;
    checked++;
    if (a.revision > second.revision) {
      findings.push({
        kind: 'follower-revision-ahead',
        memberId: p.id,
        leaderRevision: second.revision,
        followerRevision: a.revision,
      });
    }
    if (a.compactRevision > second.compactRevision) {
      findings.push({
        kind: 'follower-compact-revision-ahead',
        memberId: p.id,
        leaderCompactRevision: second.compactRevision,
        followerCompactRevision: a.compactRevision,
      });
    }
    if (a.compactRevision === first.compactRevision && a.hash !== first.hash) {
      findings.push({
        kind: 'hash-mismatch',
        memberId: p.id,
        revision: first.revision,
        compactRevision: first.compactRevision,
        leaderHash: first.hash,
        followerHash: a.hash,
      });
    }
  }
  return { findings, checked, corrupt: findings[0]?.memberId };
}

// ---- Asking the peers ---------------------------------------------------------------------------

export interface PeerHashSource {
  readonly memberId: bigint;
  /** The other members and their peer URLs (read at each check: membership changes). */
  readonly peers: () => readonly { readonly id: bigint; readonly peerUrls: readonly string[] }[];
  /** One HashKV call to a peer URL (the peer port's GET /members/hashkv); never rejects. */
  readonly fetch: (url: string, revision: number, timeoutMs: number) => Promise<PeerHashAnswer>;
  /** Per call: etcd's request timeout (5 s plus two election timeouts). */
  readonly timeoutMs: number;
  readonly logger: CheckLogger;
}

/**
 * Every peer's hash at `revision` (etcd's getPeerHashKVs): each peer's URLs in turn until one answers;
 * peers are asked at the same time (etcd asks one after the other), answers come in member order.
 */
export async function peerHashes(src: PeerHashSource, revision: number): Promise<PeerHash[]> {
  const peers = src.peers().filter((p) => p.id !== src.memberId && p.peerUrls.length > 0);
  return Promise.all(
    peers.map(async (p): Promise<PeerHash> => {
      let answer: PeerHashAnswer = { kind: 'failed', message: 'no peer URL' };
      for (const url of p.peerUrls) {
        answer = await src.fetch(url, revision, src.timeoutMs);
        // A refusal with an mvcc error is an answer too: the next URL reaches the same member.
        if (answer.kind !== 'failed') break;
        src.logger.warn('failed hash kv request', {
          'local-member-id': formatId(src.memberId),
          'requested-revision': revision,
          'remote-peer-endpoint': url,
          error: answer.message,
        });
      }
      return { id: p.id, peerUrls: p.peerUrls, answer };
    }),
  );
}

// ---- The initial check --------------------------------------------------------------------------

/**
 * etcd's CheckInitialHashKV: true when no peer at the same compact revision has another hash at this
 * member's revision (also with no peers, or none reachable); false after logging the inconsistency.
 */
export async function initialCorruptCheck(src: PeerHashSource, local: KeyspaceHash): Promise<boolean> {
  const { logger } = src;
  const self = formatId(src.memberId);
  logger.info('starting initial corruption check', {
    'local-member-id': self,
    timeout: `${src.timeoutMs}ms`,
  });
  const localFields = {
    'local-member-id': self,
    'local-member-revision': local.revision,
    'local-member-compact-revision': local.compactRevision,
    'local-member-hash': local.hash,
  };
  const mismatches: Fields[] = [];
  for (const p of await peerHashes(src, local.revision)) {
    const peer = { 'remote-peer-id': formatId(p.id), 'remote-peer-endpoints': p.peerUrls };
    const a = p.answer;
    const answered =
      a.kind === 'ok'
        ? {
            ...peer,
            'remote-peer-revision': a.revision,
            'remote-peer-compact-revision': a.compactRevision,
            'remote-peer-hash': a.hash,
          }
        : { ...peer, error: a.message };
    switch (compareInitial(local, a)) {
      case 'mismatch':
        logger.warn('found different hash values from remote peer', { ...localFields, ...answered });
        mismatches.push(answered);
        break;
      case 'compact-revision-differs':
        logger.warn('found different compact revision values from remote peer', {
          ...localFields,
          ...answered,
        });
        break;
      case 'peer-behind':
        logger.warn('cannot fetch hash from slow remote peer', { ...localFields, ...answered });
        break;
      case 'local-behind':
        logger.warn('cannot fetch hash from remote peer; local member is behind', {
          ...localFields,
          ...answered,
        });
        break;
      case 'unreachable':
        logger.warn('cannot fetch hash from remote peer', { ...localFields, ...answered });
        break;
      case 'consistent':
        break;
    }
  }
  if (mismatches.length > 0) {
    logger.error(`${self} found data inconsistency with peers`, { ...localFields, peers: mismatches });
    return false;
  }
  logger.info('initial corruption checking passed; no corruption', { 'local-member-id': self });
  return true;
}

// ---- The periodic check -------------------------------------------------------------------------

export interface MonitorOptions extends PeerHashSource {
  /** --experimental-corrupt-check-time in milliseconds (> 0). */
  readonly intervalMs: number;
  readonly isLeader: () => boolean;
  /** This member's hash at its current revision. */
  readonly localHash: () => KeyspaceHash;
  /** Resolves once everything committed when called is applied here (a linearizable read). */
  readonly confirmApplied: () => Promise<void>;
  /** Proposes the CORRUPT alarm for `memberId` through raft; resolves once applied. */
  readonly raiseAlarm: (memberId: bigint) => Promise<unknown>;
}

/** The leader's periodic check: one round every interval after the previous one ended (etcd's loop). */
export class CorruptionMonitor {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(private readonly o: MonitorOptions) {}

  static start(o: MonitorOptions): CorruptionMonitor {
    const m = new CorruptionMonitor(o);
    o.logger.info('enabled corruption checking', {
      'local-member-id': formatId(o.memberId),
      interval: `${o.intervalMs}ms`,
    });
    m.schedule();
    return m;
  }

  /** No round starts after this; a round under way stops at its next step and raises nothing. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.round(), this.o.intervalMs);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    if (this.o.isLeader()) {
      try {
        await this.check();
      } catch (e) {
        if (!this.stopped) {
          this.o.logger.warn('failed to check hash KV', {
            error: e instanceof Error ? e.message : String(e),
          });
        }
      }
    }
    this.schedule();
  }

  /** One round (etcd's checkHashKV); undefined when stopped meanwhile. Rejects if a step fails. */
  async check(): Promise<LeaderCheck | undefined> {
    const { logger } = this.o;
    const first = this.o.localHash();
    const peers = await peerHashes(this.o, first.revision);
    if (this.stopped) return undefined;
    await this.o.confirmApplied();
    if (this.stopped) return undefined;
    const second = this.o.localHash();
    const result = checkFollowers(this.o.memberId, first, second, peers);
    for (const f of result.findings) logFinding(logger, f);
    if (result.corrupt !== undefined) {
      logger.warn(`raising the CORRUPT alarm for member ${formatId(result.corrupt)}`, {
        'alarm-member-id': formatId(result.corrupt),
      });
      try {
        await this.o.raiseAlarm(result.corrupt);
      } catch (e) {
        if (!this.stopped) {
          logger.warn('failed to raise CORRUPT alarm', { error: e instanceof Error ? e.message : String(e) });
        }
      }
    }
    logger.info('finished peer corruption check', { 'number-of-peers-checked': result.checked });
    return result;
  }
}

function logFinding(logger: CheckLogger, f: Finding): void {
  switch (f.kind) {
    case 'leader-hash-changed':
      logger.warn('found hash mismatch', {
        'revision-1': f.first.revision,
        'compact-revision-1': f.first.compactRevision,
        'hash-1': f.first.hash,
        'revision-2': f.second.revision,
        'compact-revision-2': f.second.compactRevision,
        'hash-2': f.second.hash,
      });
      return;
    case 'follower-revision-ahead':
      logger.warn("revision from follower must be less than or equal to leader's", {
        'leader-revision': f.leaderRevision,
        'follower-revision': f.followerRevision,
        'follower-peer-id': formatId(f.memberId),
      });
      return;
    case 'follower-compact-revision-ahead':
      logger.warn("compact revision from follower must be less than or equal to leader's", {
        'leader-compact-revision': f.leaderCompactRevision,
        'follower-compact-revision': f.followerCompactRevision,
        'follower-peer-id': formatId(f.memberId),
      });
      return;
    case 'hash-mismatch':
      logger.warn('same compact revision then hashes must match', {
        revision: f.revision,
        'leader-compact-revision': f.compactRevision,
        'leader-hash': f.leaderHash,
        'follower-compact-revision': f.compactRevision,
        'follower-hash': f.followerHash,
        'follower-peer-id': formatId(f.memberId),
      });
      return;
  }
}
