// The row layouts shared by the simple (comma-joined) and table formats.

import type { MemberListResponse } from '../../proto/etcdserverpb/rpc.js';
import { hex, humanizeBytes } from './go-text.js';
import type { EpHashKV, EpHealth, EpStatus, SnapshotStatus } from './printer.js';

export type Rows = { headers: string[]; rows: string[][] };

export function memberRows(r: MemberListResponse): Rows {
  return {
    headers: ['ID', 'Status', 'Name', 'Peer Addrs', 'Client Addrs', 'Is Learner'],
    rows: r.members.map((m) => [
      hex(m.ID),
      m.name.length === 0 ? 'unstarted' : 'started',
      m.name,
      m.peerURLs.join(','),
      m.clientURLs.join(','),
      String(m.isLearner),
    ]),
  };
}

export function healthRows(list: readonly EpHealth[]): Rows {
  return {
    headers: ['endpoint', 'health', 'took', 'error'],
    rows: list.map((h) => [h.ep, String(h.health), h.took, h.error]),
  };
}

export function statusRows(list: readonly EpStatus[]): Rows {
  return {
    headers: [
      'endpoint',
      'ID',
      'version',
      'db size',
      'is leader',
      'is learner',
      'raft term',
      'raft index',
      'raft applied index',
      'errors',
    ],
    rows: list.map(({ ep, resp }) => [
      ep,
      hex(resp.header?.memberId ?? 0n),
      resp.version,
      humanizeBytes(BigInt.asUintN(64, resp.dbSize)),
      String(resp.leader === (resp.header?.memberId ?? 0n)),
      String(resp.isLearner),
      String(resp.raftTerm),
      String(resp.raftIndex),
      String(resp.raftAppliedIndex),
      resp.errors.join(', '),
    ]),
  };
}

export function dbStatusRows(s: SnapshotStatus): Rows {
  return {
    headers: ['hash', 'revision', 'total keys', 'total size'],
    rows: [[s.hash.toString(16), String(s.revision), String(s.totalKey), humanizeBytes(BigInt(s.totalSize))]],
  };
}

export function hashKVRows(list: readonly EpHashKV[]): Rows {
  return { headers: ['endpoint', 'hash'], rows: list.map(({ ep, resp }) => [ep, String(resp.hash)]) };
}
