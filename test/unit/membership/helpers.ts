// An in-memory MembershipStore and conf-change builders for the membership tests.

import type { ConfChange } from '../../../src/raft/types.js';
import type { MembershipBucket, MembershipStore } from '../../../src/membership/cluster.js';
import {
  encodeAddContext,
  encodePromoteContext,
  encodeUpdateContext,
  makeMember,
  type Member,
} from '../../../src/membership/member.js';

export class MemoryStore implements MembershipStore {
  readonly buckets = new Map<MembershipBucket, Map<string, Uint8Array>>();

  put(bucket: MembershipBucket, key: Uint8Array, value: Uint8Array): void {
    let b = this.buckets.get(bucket);
    if (b === undefined) this.buckets.set(bucket, (b = new Map()));
    b.set(Buffer.from(key).toString('latin1'), value);
  }

  delete(bucket: MembershipBucket, key: Uint8Array): void {
    this.buckets.get(bucket)?.delete(Buffer.from(key).toString('latin1'));
  }

  range(
    bucket: MembershipBucket,
    start: Uint8Array,
    end?: Uint8Array,
  ): { key: Uint8Array; value: Uint8Array }[] {
    const s = Buffer.from(start).toString('latin1');
    const e = end === undefined ? undefined : Buffer.from(end).toString('latin1');
    return [...(this.buckets.get(bucket) ?? new Map<string, Uint8Array>())]
      .filter(([k]) => k >= s && (e === undefined || k < e))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => ({ key: new Uint8Array(Buffer.from(k, 'latin1')), value: v }));
  }

  /** Bucket contents as text, for comparing stores. */
  dump(bucket: MembershipBucket): [string, string][] {
    return this.range(bucket, new Uint8Array(0)).map(({ key, value }) => [
      Buffer.from(key).toString(),
      Buffer.from(value).toString(),
    ]);
  }
}

export function addNode(id: bigint, peerUrls: readonly string[], name = ''): ConfChange {
  return { type: 'addNode', nodeId: id, context: encodeAddContext(makeMember({ id, peerUrls, name })) };
}

export function addLearner(id: bigint, peerUrls: readonly string[]): ConfChange {
  return {
    type: 'addLearnerNode',
    nodeId: id,
    context: encodeAddContext(makeMember({ id, peerUrls, isLearner: true })),
  };
}

export function promote(id: bigint): ConfChange {
  return { type: 'addNode', nodeId: id, context: encodePromoteContext(id) };
}

export function remove(id: bigint): ConfChange {
  return { type: 'removeNode', nodeId: id, context: new Uint8Array(0) };
}

export function update(id: bigint, peerUrls: readonly string[]): ConfChange {
  return { type: 'updateNode', nodeId: id, context: encodeUpdateContext(id, peerUrls) };
}

export function started(m: Member, name: string): Member {
  return { ...m, name };
}
