// `--force-new-cluster`: a member restarts from its data dir as the only member of its cluster,
// keeping its member ID, its cluster ID and everything it applied. As etcd does
// (restartAsStandaloneNode), the change is written into the raft log rather than into the state:
//
//   1. WAL entries beyond the commit index are discarded (never committed: nobody may rely on them);
//   2. conf-change entries are appended at the end of the log, in the current term, and committed by
//      fiat: one removeNode for every other member, then (only when needed) an addNode of this member
//      (its data dir predates its own add) or a promotion (it was a learner);
//   3. the entries and the hard state committing them are written to the WAL before raft starts.
//
// The member then applies them like any committed conf change: the membership state machine removes
// the other members (`members` -> `members_removed`) and raft drops them from its configuration, in
// the same step, so both agree. Until they are applied raft refuses to campaign (a committed conf change
// is pending), so the member cannot be elected under the old configuration; once they are, it is the
// only voter and elects itself. Later restarts, with or without the flag, replay the same log.
//
// Which members to remove: those raft may still count (etcd's getIDs: the snapshot's configuration,
// then every conf change in the log) and those the membership still lists (the backend's, then the
// conf changes not yet applied to it). A removal of an ID the membership does not know is refused at
// apply (raft sees a no-op), which is harmless: such an ID is in no configuration.
//
// Pure: the caller reads the data dir, calls planForceNewCluster, writes `appended` and `hardState`
// to the WAL and builds raft's storage from `kept` + `appended`.

import { decodeConfChange, encodeConfChange } from '../raft/codec.js';
import type { ConfChange, ConfState, Entry, HardState } from '../raft/types.js';
import {
  compareIds,
  decodeConfChangeContext,
  encodeAddContext,
  encodePromoteContext,
  formatId,
  makeMember,
  type Member,
} from '../membership/index.js';

export class ForceNewClusterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForceNewClusterError';
  }
}

export interface ForceNewClusterInput {
  /** This member's ID (from the WAL's metadata). */
  readonly localId: bigint;
  /** The configuration of the raft snapshot the WAL was opened at (undefined when there is none). */
  readonly snapshotConfState: ConfState | undefined;
  /** The snapshot's index (0 when there is none): `entries` follow it. */
  readonly snapshotIndex: number;
  /** The last hard state in the WAL. */
  readonly hardState: HardState;
  /** The WAL's entries after the snapshot, in order, contiguous. */
  readonly entries: readonly Entry[];
  /** The backend's consistent index: entries up to it are applied, hence were committed. */
  readonly appliedIndex: number;
  /** The membership as the backend holds it (as of `appliedIndex`). */
  readonly members: readonly Member[];
  /** IDs in the backend's `members_removed`. */
  readonly removedIds: readonly bigint[];
  /** This member's peer URLs, used only if it must be added (its --initial-advertise-peer-urls). */
  readonly advertisePeerUrls: readonly string[];
}

export interface ForceNewClusterPlan {
  /** The commit index the log was cut at (the WAL's, or the applied index if that is further). */
  readonly commitIndex: number;
  /** The uncommitted tail dropped from the log (undefined when there was none). */
  readonly discarded: { readonly firstIndex: number; readonly count: number } | undefined;
  /** The entries kept: those after the snapshot up to `commitIndex`. */
  readonly kept: readonly Entry[];
  /** New committed entries to write after `kept` (conf changes, or one empty entry; see below). */
  readonly appended: readonly Entry[];
  /** The hard state to write with `appended`: commit at their end. */
  readonly hardState: HardState;
  /** The members the appended entries remove, ascending. */
  readonly removedIds: readonly bigint[];
  /** This member is added (it was in no configuration yet). */
  readonly addsSelf: boolean;
  /** This member is promoted (it was a learner). */
  readonly promotesSelf: boolean;
  /** Whether anything must be written to the WAL (false: the log already says what is wanted). */
  readonly changed: boolean;
}

interface Tracked {
  readonly isLearner: boolean;
}

function confChangeOf(e: Entry): ConfChange {
  try {
    return decodeConfChange(e.data);
  } catch (err) {
    throw new ForceNewClusterError(
      `entry ${e.index} is a conf change that does not decode: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

function isPromote(cc: ConfChange): boolean {
  if (cc.type !== 'addNode') return false;
  try {
    return decodeConfChangeContext(cc.context).isPromote;
  } catch {
    return false; // a bootstrap or malformed context: an add, as the membership would read it
  }
}

export function planForceNewCluster(input: ForceNewClusterInput): ForceNewClusterPlan {
  const { localId, hardState, entries, snapshotIndex } = input;
  const lastIndex = entries.length > 0 ? entries[entries.length - 1].index : snapshotIndex;

  // 1. Cut the log at the commit index. Entries the backend has applied were committed even if the
  //    WAL's hard state (written without a sync when only the commit moves) says less.
  const commitIndex = Math.max(hardState.commit, Math.min(input.appliedIndex, lastIndex), snapshotIndex);
  const cut = entries.findIndex((e) => e.index > commitIndex);
  const kept = cut < 0 ? entries.slice() : entries.slice(0, cut);
  const discarded = cut < 0 ? undefined : { firstIndex: entries[cut].index, count: entries.length - cut };

  // 2. Who raft may count: the snapshot's configuration, then every conf change in the log.
  const raft = new Map<bigint, Tracked>();
  for (const id of input.snapshotConfState?.voters ?? []) raft.set(id, { isLearner: false });
  for (const id of input.snapshotConfState?.learners ?? []) raft.set(id, { isLearner: true });
  // Who the membership lists: the backend's, then the conf changes it has not applied yet.
  const cluster = new Map<bigint, Tracked>();
  for (const m of input.members) cluster.set(m.id, { isLearner: m.isLearner });
  const removed = new Set(input.removedIds);
  for (const e of kept) {
    if (e.type !== 'confChange') continue;
    const cc = confChangeOf(e);
    const unapplied = e.index > input.appliedIndex;
    switch (cc.type) {
      case 'addNode': {
        // In raft an addNode makes a voter, of a new ID or of a learner (a promotion).
        raft.set(cc.nodeId, { isLearner: false });
        // The membership takes a promotion of a member it knows, or an add of one it does not.
        const known = cluster.has(cc.nodeId);
        if (unapplied && !removed.has(cc.nodeId) && known === isPromote(cc)) {
          cluster.set(cc.nodeId, { isLearner: false });
        }
        break;
      }
      case 'addLearnerNode':
        if (!raft.has(cc.nodeId)) raft.set(cc.nodeId, { isLearner: true });
        if (unapplied && !removed.has(cc.nodeId) && !cluster.has(cc.nodeId)) {
          cluster.set(cc.nodeId, { isLearner: true });
        }
        break;
      case 'removeNode':
        raft.delete(cc.nodeId);
        if (unapplied && cluster.delete(cc.nodeId)) removed.add(cc.nodeId);
        break;
      case 'updateNode':
        break;
    }
  }

  if (removed.has(localId)) {
    throw new ForceNewClusterError(
      `member ${formatId(localId)} was removed from its cluster; --force-new-cluster cannot bring it back ` +
        '(make a copy with a new identity with `cairnutl backup`, then start that with --force-new-cluster)',
    );
  }
  const inRaft = raft.get(localId);
  const inCluster = cluster.get(localId);
  if (inCluster !== undefined && inRaft === undefined) {
    throw new ForceNewClusterError(
      `member ${formatId(localId)} is in the membership but in no raft configuration of its log; ` +
        'the data dir is inconsistent and --force-new-cluster cannot repair it',
    );
  }

  // 3. The new entries: removals first (so an add of this member cannot clash with the peer URLs of
  //    a member about to go), then this member's add or promotion.
  const others = [...new Set([...raft.keys(), ...cluster.keys()])]
    .filter((id) => id !== localId)
    .sort(compareIds);
  const changes: ConfChange[] = others.map((nodeId) => ({
    type: 'removeNode',
    nodeId,
    context: new Uint8Array(0),
  }));
  const addsSelf = inCluster === undefined;
  const promotesSelf = !addsSelf && inCluster.isLearner;
  if (addsSelf) {
    if (input.advertisePeerUrls.length === 0) {
      throw new ForceNewClusterError(
        `member ${formatId(localId)} must be added to its own cluster and has no peer URLs to advertise`,
      );
    }
    const self = makeMember({ id: localId, peerUrls: [...input.advertisePeerUrls] });
    changes.push({ type: 'addNode', nodeId: localId, context: encodeAddContext(self) });
  } else if (promotesSelf) {
    changes.push({ type: 'addNode', nodeId: localId, context: encodePromoteContext(localId) });
  }

  const lastKept = kept.length > 0 ? kept[kept.length - 1].index : snapshotIndex;
  // Entries carry the current term (no entry of the log has a later one); at least 1, the first term.
  const term = Math.max(1, hardState.term, kept.length > 0 ? kept[kept.length - 1].term : 0);
  const appended: Entry[] = changes.map((cc, i) => ({
    term,
    index: lastKept + 1 + i,
    type: 'confChange',
    data: encodeConfChange(cc),
  }));
  // Nothing to change but a tail to drop: one empty entry (what a new leader appends) at the cut makes
  // the drop durable, or a restart without the flag would find the tail again and commit it.
  if (appended.length === 0 && discarded !== undefined) {
    appended.push({ term, index: lastKept + 1, type: 'normal', data: new Uint8Array(0) });
  }
  const commit = appended.length > 0 ? appended[appended.length - 1].index : commitIndex;
  return {
    commitIndex,
    discarded,
    kept,
    appended,
    hardState: { term, vote: hardState.vote, commit },
    removedIds: others,
    addsSelf,
    promotesSelf,
    changed: appended.length > 0 || commit !== hardState.commit,
  };
}
