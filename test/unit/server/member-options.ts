// The options of a single in-process member for the server tests: a new one-member cluster,
// fast timing, no peers, quiet logs.

import { bootstrapNewCluster, bootstrapPeers } from '../../../src/membership/index.js';
import type { OpenMemberOptions } from '../../../src/server/bootstrap.js';

export const quiet = { info: () => {}, warn: () => {}, error: () => {} };

export const cluster = bootstrapNewCluster({
  name: 'default',
  initialCluster: 'default=http://localhost:2380',
  token: 'etcd-cluster',
  advertisePeerUrls: ['http://localhost:2380'],
});

export function options(dataDir: string, extra: Partial<OpenMemberOptions> = {}): OpenMemberOptions {
  return {
    name: 'default',
    dataDir,
    identity: { memberId: cluster.localId, clusterId: cluster.clusterId },
    bootstrapPeers: bootstrapPeers(cluster.members),
    peers: {
      send: () => {},
      addPeer: () => {},
      updatePeer: () => {},
      removePeer: () => {},
      activeSince: () => undefined,
    },
    strictReconfigCheck: true,
    clientUrls: ['http://127.0.0.1:2379'],
    heartbeatMs: 10,
    electionMs: 100,
    preVote: true,
    snapshotCount: 100_000,
    quotaBackendBytes: 0,
    maxRequestBytes: 1.5 * 1024 * 1024,
    maxTxnOps: 128,
    randomSeed: 1,
    logger: quiet,
    ...extra,
  };
}
