// The cluster's membership as a deterministic state machine: it changes only by applying committed
// raft conf changes and publish requests, persists to the backend buckets `members`,
// `members_removed` and `cluster` in the caller's batch (never commits itself), and recovers from
// them. Given the same entries, every member holds the same membership.

import type { ConfChange } from '../raft/types.js';

import { MembershipError } from './errors.js';
import { formatId, memberKey, parseMemberKey } from './ids.js';
import {
  REMOVED_MEMBER_VALUE,
  decodeConfChangeContext,
  decodeMember,
  encodeMember,
  isStarted,
  sortMembers,
  type Member,
} from './member.js';

export type MembershipBucket = 'members' | 'members_removed' | 'cluster';

/**
 * The membership buckets through the backend's batch transaction; `Backend.batchTx` satisfies it.
 * Writes land in the batch that commits with the consistent index of the entry being applied.
 */
export interface MembershipStore {
  put(bucket: MembershipBucket, key: Uint8Array, value: Uint8Array): void;
  delete(bucket: MembershipBucket, key: Uint8Array): void;
  /** Every row with start <= key (< end); an empty start means from the first key. */
  range(
    bucket: MembershipBucket,
    start: Uint8Array,
    end?: Uint8Array,
  ): readonly { readonly key: Uint8Array; readonly value: Uint8Array }[];
}

/** `cluster` bucket key of the cluster version (e.g. `3.4.0`). */
export const CLUSTER_VERSION_KEY: Uint8Array = new Uint8Array(Buffer.from('clusterVersion', 'latin1'));
/** etcd 3.4 allows one learner at a time. */
export const MAX_LEARNERS = 1;

const EMPTY = new Uint8Array(0);
const REMOVED_BYTES = new Uint8Array(Buffer.from(REMOVED_MEMBER_VALUE, 'latin1'));

export interface MemberAttributes {
  readonly name: string;
  readonly clientUrls: readonly string[];
}

export type ConfChangeOutcome =
  | { readonly kind: 'added'; readonly member: Member }
  | { readonly kind: 'promoted'; readonly member: Member }
  | { readonly kind: 'updated'; readonly member: Member }
  | { readonly kind: 'removed'; readonly id: bigint; readonly member: Member | undefined };

export interface ConfChangeResult {
  readonly outcome: ConfChangeOutcome;
  /** This member was removed: the server must stop. */
  readonly removedSelf: boolean;
}

export interface ClusterIdentity {
  readonly clusterId: bigint;
  /** This member's ID (0n for tools that only read a data dir). */
  readonly localId: bigint;
}

function text(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
}

export class RaftCluster {
  readonly clusterId: bigint;
  readonly localId: bigint;
  private readonly store: MembershipStore;
  private readonly byId = new Map<bigint, Member>();
  private readonly removed = new Set<bigint>();
  private clusterVersion: string | undefined;

  private constructor(identity: ClusterIdentity, store: MembershipStore) {
    this.clusterId = identity.clusterId;
    this.localId = identity.localId;
    this.store = store;
  }

  /** An empty membership; a new cluster fills it by applying its bootstrap conf changes. */
  static create(identity: ClusterIdentity, store: MembershipStore): RaftCluster {
    return new RaftCluster(identity, store);
  }

  /** The membership as the backend holds it (after a restart or a snapshot install). */
  static recover(identity: ClusterIdentity, store: MembershipStore): RaftCluster {
    const c = new RaftCluster(identity, store);
    for (const { key, value } of store.range('members', EMPTY)) {
      const m = decodeMember(value);
      const id = parseMemberKey(key);
      if (m.id !== id)
        throw new Error(`membership: member ${formatId(m.id)} stored under key ${formatId(id)}`);
      c.byId.set(id, m);
    }
    for (const { key } of store.range('members_removed', EMPTY)) c.removed.add(parseMemberKey(key));
    for (const { key, value } of store.range('cluster', EMPTY)) {
      if (Buffer.compare(key, CLUSTER_VERSION_KEY) === 0) c.clusterVersion = text(value);
    }
    return c;
  }

  // ---- Reads ---------------------------------------------------------------------------------------

  /** All members, ascending by ID. */
  members(): Member[] {
    return sortMembers(this.byId.values());
  }

  member(id: bigint): Member | undefined {
    return this.byId.get(id);
  }

  memberByName(name: string): Member | undefined {
    return this.members().find((m) => m.name === name);
  }

  /** Voting members, ascending by ID. */
  voters(): Member[] {
    return this.members().filter((m) => !m.isLearner);
  }

  learners(): Member[] {
    return this.members().filter((m) => m.isLearner);
  }

  isRemoved(id: bigint): boolean {
    return this.removed.has(id);
  }

  removedIds(): bigint[] {
    return [...this.removed].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** The cluster version agreed by the members (e.g. `3.4.0`), undefined until decided. */
  version(): string | undefined {
    return this.clusterVersion;
  }

  /** etcd's cluster-wide peer URL set, for checking that a URL is not taken. */
  private peerUrlsInUse(except?: bigint): Set<string> {
    const urls = new Set<string>();
    for (const m of this.byId.values()) if (m.id !== except) for (const u of m.peerUrls) urls.add(u);
    return urls;
  }

  // ---- Conf changes --------------------------------------------------------------------------------

  /**
   * etcd's ValidateConfigurationChange: whether a committed conf change may be applied. Throws a
   * MembershipError; the caller then applies the change to raft as a no-op and reports the error to
   * the proposer.
   */
  validateConfChange(cc: ConfChange): void {
    const id = cc.nodeId;
    if (this.removed.has(id)) throw new MembershipError('id-removed');
    switch (cc.type) {
      case 'addNode':
      case 'addLearnerNode': {
        const { member, isPromote } = decodeConfChangeContext(cc.context);
        if (isPromote) {
          const existing = this.byId.get(id);
          if (existing === undefined) throw new MembershipError('id-not-found');
          if (!existing.isLearner) throw new MembershipError('member-not-learner');
          return;
        }
        if (this.byId.has(id)) throw new MembershipError('id-exists');
        const inUse = this.peerUrlsInUse();
        if (member.peerUrls.some((u) => inUse.has(u))) throw new MembershipError('peer-url-exists');
        if (cc.type === 'addLearnerNode' && this.learners().length + 1 > MAX_LEARNERS) {
          throw new MembershipError('too-many-learners');
        }
        return;
      }
      case 'removeNode':
        if (!this.byId.has(id)) throw new MembershipError('id-not-found');
        return;
      case 'updateNode': {
        if (!this.byId.has(id)) throw new MembershipError('id-not-found');
        const { member } = decodeConfChangeContext(cc.context);
        const inUse = this.peerUrlsInUse(id);
        if (member.peerUrls.some((u) => inUse.has(u))) throw new MembershipError('peer-url-exists');
        return;
      }
    }
  }

  /**
   * Validates, then applies a committed conf change and writes it to the store. Throws a
   * MembershipError (with nothing changed) when the change is invalid; throws a plain Error for a
   * malformed context or one whose ID differs from the change's (etcd panics there).
   */
  applyConfChange(cc: ConfChange): ConfChangeResult {
    this.validateConfChange(cc);
    const id = cc.nodeId;
    const removedSelf = cc.type === 'removeNode' && id === this.localId;
    switch (cc.type) {
      case 'addNode':
      case 'addLearnerNode': {
        const { member, isPromote } = decodeConfChangeContext(cc.context);
        checkContextId(cc, member.id);
        if (isPromote) {
          const promoted: Member = { ...(this.byId.get(id) as Member), isLearner: false };
          this.save(promoted);
          return { outcome: { kind: 'promoted', member: promoted }, removedSelf };
        }
        // The raft change decides voter or learner; the context's flag says the same for etcd's own.
        const added: Member = { ...member, isLearner: cc.type === 'addLearnerNode' };
        this.save(added);
        return { outcome: { kind: 'added', member: added }, removedSelf };
      }
      case 'removeNode': {
        const member = this.byId.get(id);
        this.byId.delete(id);
        this.removed.add(id);
        this.store.delete('members', memberKey(id));
        this.store.put('members_removed', memberKey(id), REMOVED_BYTES);
        return { outcome: { kind: 'removed', id, member }, removedSelf };
      }
      case 'updateNode': {
        const { member } = decodeConfChangeContext(cc.context);
        checkContextId(cc, member.id);
        // etcd 3.4 replaces the learner flag with the context's (always false), making a learner look
        // like a voter that raft does not count; we keep the flag: only promote changes it.
        const updated: Member = { ...(this.byId.get(id) as Member), peerUrls: member.peerUrls };
        this.save(updated);
        return { outcome: { kind: 'updated', member: updated }, removedSelf };
      }
    }
  }

  /**
   * A member's published name and client URLs (etcd's publish request). Returns 'removed' for a
   * removed member (ignored, as etcd ignores it) and 'unknown' for an ID never seen (etcd panics; the
   * caller decides).
   */
  setAttributes(id: bigint, attributes: MemberAttributes): 'updated' | 'removed' | 'unknown' {
    const m = this.byId.get(id);
    if (m === undefined) return this.removed.has(id) ? 'removed' : 'unknown';
    this.save({ ...m, name: attributes.name, clientUrls: [...attributes.clientUrls] });
    return 'updated';
  }

  setVersion(version: string): void {
    if (!/^\d+\.\d+\.\d+$/.test(version)) throw new RangeError(`membership: bad cluster version ${version}`);
    this.clusterVersion = version;
    this.store.put('cluster', CLUSTER_VERSION_KEY, new Uint8Array(Buffer.from(version, 'latin1')));
  }

  private save(m: Member): void {
    this.byId.set(m.id, m);
    this.store.put('members', memberKey(m.id), encodeMember(m));
  }

  // ---- Strict reconfiguration checks (--strict-reconfig-check) ------------------------------------

  /**
   * Whether adding a voter keeps enough started voters for quorum. As etcd does, a one-voter cluster
   * may always grow to two (restoring a cluster from one member).
   */
  isReadyToAddVotingMember(): boolean {
    const voters = this.voters();
    const started = voters.filter(isStarted).length;
    const after = voters.length + 1;
    if (started === 1 && after === 2) return true;
    return started >= quorum(after);
  }

  /** Whether removing `id` (a voter or not) leaves a started quorum among the remaining voters. */
  isReadyToRemoveVotingMember(id: bigint): boolean {
    const rest = this.voters().filter((m) => m.id !== id);
    return rest.filter(isStarted).length >= quorum(rest.length);
  }

  /** Whether promoting a learner (counted as started) keeps a started quorum. */
  isReadyToPromoteMember(_id: bigint): boolean {
    const voters = this.voters();
    return voters.filter(isStarted).length + 1 >= quorum(voters.length + 1);
  }
}

function quorum(n: number): number {
  return Math.floor(n / 2) + 1;
}

function checkContextId(cc: ConfChange, contextId: bigint): void {
  if (contextId !== cc.nodeId) {
    throw new Error(
      `membership: conf change for ${formatId(cc.nodeId)} carries member ${formatId(contextId)} in its context`,
    );
  }
}
