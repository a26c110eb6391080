// Entries per second through an in-memory 3-member raft cluster: no disk, no network, no codec.
// It measures the consensus core's own cost, so later layers can see what they add on top.
//
//   npm run bench -- [--entries=200000] [--batch=64] [--size=256] [--members=3]

import { performance } from 'node:perf_hooks';
import { RawNode } from '../../src/raft/rawnode.js';
import { MemoryStorage } from '../../src/raft/storage.js';
import type { Message, NodeId } from '../../src/raft/types.js';
import { intFlag } from '../flags.js';

const totalEntries = intFlag('entries', 200_000);
const batch = intFlag('batch', 64);
const valueSize = intFlag('size', 256);
const memberCount = intFlag('members', 3);

const ids: NodeId[] = Array.from({ length: memberCount }, (_, i) => BigInt(i + 1));
const storages = new Map<NodeId, MemoryStorage>();
const nodes = new Map<NodeId, RawNode>();
const appliedCount = new Map<NodeId, number>();
for (const id of ids) {
  const storage = new MemoryStorage({ voters: ids, learners: [] });
  storages.set(id, storage);
  appliedCount.set(id, 0);
  nodes.set(
    id,
    new RawNode({
      id,
      storage,
      electionTick: 10,
      heartbeatTick: 1,
      checkQuorum: true,
      preVote: true,
      randomSeed: Number(id),
    }),
  );
}

let inbox: Message[] = [];

/** Handle every Ready and deliver every message until the cluster is quiet. */
function pump(): void {
  for (;;) {
    let moved = false;
    for (const id of ids) {
      const node = nodes.get(id)!;
      const storage = storages.get(id)!;
      while (node.hasReady()) {
        moved = true;
        const rd = node.ready();
        if (rd.snapshot !== undefined) storage.applySnapshot(rd.snapshot);
        storage.append(rd.entries);
        if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
        for (const m of rd.messages) inbox.push(m);
        appliedCount.set(id, appliedCount.get(id)! + rd.committedEntries.length);
        node.advance();
      }
    }
    if (inbox.length === 0 && !moved) return;
    const delivering = inbox;
    inbox = [];
    for (const m of delivering) nodes.get(m.to)!.step(m);
  }
}

function leader(): RawNode {
  for (let i = 0; i < 100; i++) {
    for (const node of nodes.values()) if (node.status().softState.role === 'leader') return node;
    for (const node of nodes.values()) node.tick();
    pump();
  }
  throw new Error('no leader elected');
}

const lead = leader();
const payload = new Uint8Array(valueSize).fill(7);
const startApplied = Math.min(...appliedCount.values());
const cpuStart = process.cpuUsage();
const start = performance.now();
for (let proposed = 0; proposed < totalEntries; proposed += batch) {
  for (let i = 0; i < batch; i++) {
    const result = lead.propose(payload);
    if (!result.ok) throw new Error(`proposal dropped: ${result.reason}`);
  }
  pump();
}
const elapsedMs = performance.now() - start;
const cpu = process.cpuUsage(cpuStart);
const applied = Math.min(...appliedCount.values()) - startApplied;
if (applied < totalEntries) throw new Error(`only ${applied} of ${totalEntries} entries applied everywhere`);

const perSecond = Math.round((applied / elapsedMs) * 1000);
const cpuMicrosPerEntry = (cpu.user + cpu.system) / applied;
console.log(
  `raft in-memory, ${memberCount} members, ${applied} entries of ${valueSize} B in batches of ${batch}: ` +
    `${perSecond} entries/s, ${cpuMicrosPerEntry.toFixed(2)} µs CPU per entry (all members in one process)`,
);
