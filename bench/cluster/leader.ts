// Which member leads a benchmark cluster: loads go to the leader's client URL, because a follower
// would forward each write, adding a hop that etcd and Cairn may pay differently.

import { memberStatus } from './etcd-api.js';
import { GrpcConnection } from './grpc-h2.js';
import type { Cluster, Member } from './launcher.js';

/** The member every member names as leader, once they agree. */
export async function findLeader(cluster: Cluster, timeoutMs = 15_000): Promise<Member> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = new Map<bigint, Member>();
    const leaders = new Set<bigint>();
    for (const m of cluster.members) {
      const conn = await GrpcConnection.connect(m.clientUrl).catch(() => undefined);
      if (conn === undefined) continue;
      try {
        const s = await memberStatus(conn);
        seen.set(s.memberId, m);
        leaders.add(s.leader);
      } catch {
        // Not answering yet: ask again.
      } finally {
        conn.close();
      }
    }
    const [only] = [...leaders];
    const leader = leaders.size === 1 ? seen.get(only) : undefined;
    if (seen.size === cluster.members.length && leader !== undefined) return leader;
    if (Date.now() > deadline) throw new Error(`${cluster.target}: the members don't agree on a leader`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
