// Linearizable reads at the leader (ReadIndex, Raft thesis §6.4): a read is served at the commit
// index it arrived at, once a heartbeat round proves that no newer leader exists.

import type { NodeId } from './types.js';

interface PendingRead {
  readonly index: number;
  readonly from: NodeId;
  readonly context: Uint8Array;
  readonly acks: Set<NodeId>;
}

export interface ReleasedRead {
  readonly index: number;
  readonly from: NodeId;
  readonly context: Uint8Array;
}

function contextKey(context: Uint8Array): string {
  let key = '';
  for (const byte of context) key += String.fromCharCode(byte);
  return key;
}

export class ReadOnly {
  /** Reads in arrival order; an acknowledgement of one confirms all those before it too. */
  private queue: PendingRead[] = [];
  private readonly byContext = new Map<string, PendingRead>();

  /** Queue a read; false if one with the same context is already waiting (no new round needed). */
  add(index: number, from: NodeId, context: Uint8Array): boolean {
    const key = contextKey(context);
    if (this.byContext.has(key)) return false;
    const read: PendingRead = { index, from, context, acks: new Set() };
    this.queue.push(read);
    this.byContext.set(key, read);
    return true;
  }

  /**
   * `from` answered the heartbeat round of `context`. When that round has a quorum of voters
   * (counting the leader), it and every read queued before it are released in order.
   */
  acknowledge(
    from: NodeId,
    context: Uint8Array,
    self: NodeId,
    voters: readonly NodeId[],
    quorum: number,
  ): ReleasedRead[] {
    const key = contextKey(context);
    const read = this.byContext.get(key);
    if (read === undefined) return [];
    read.acks.add(from);
    let granted = 0;
    for (const id of voters) if (id === self || read.acks.has(id)) granted++;
    if (granted < quorum) return [];
    const at = this.queue.indexOf(read);
    const released = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    for (const r of released) this.byContext.delete(contextKey(r.context));
    return released;
  }

  reset(): void {
    this.queue = [];
    this.byContext.clear();
  }
}
