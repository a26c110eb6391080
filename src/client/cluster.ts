// The Cluster service: membership changes and the member list.

import {
  ClusterService,
  type MemberAddResponse,
  type MemberListResponse,
  type MemberPromoteResponse,
  type MemberRemoveResponse,
  type MemberUpdateResponse,
} from '../proto/etcdserverpb/rpc.js';
import { status as Status } from '@grpc/grpc-js';

import { EtcdError } from './errors.js';
import type { CallOptions, Transport } from './transport.js';

/**
 * Checks peer URLs before sending them, as clientv3 does (a bad URL would otherwise reach the members'
 * peer transport); the messages are etcd's (pkg/types NewURLs).
 */
export function validatePeerURLs(urls: readonly string[]): void {
  const bad = (text: string): EtcdError => new EtcdError(Status.INVALID_ARGUMENT, text, { local: true });
  if (urls.length === 0) throw bad('no valid URLs given');
  for (const raw of urls) {
    const url = raw.trim();
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$/.exec(url);
    const scheme = m?.[1] ?? '';
    if (!['http', 'https', 'unix', 'unixs'].includes(scheme)) {
      throw bad(`URL scheme must be http, https, unix, or unixs: ${url}`);
    }
    const rest = m?.[2] ?? '';
    const authority = rest.startsWith('//') ? rest.slice(2).split(/[/?#]/)[0] : '';
    const path = rest.startsWith('//') ? rest.slice(2 + authority.length).split(/[?#]/)[0] : rest;
    const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
    if (!/^(\[[^\]]*\]|[^:[\]]*):[^:]*$/.test(hostPort)) {
      throw bad(`URL address does not have the form "host:port": ${url}`);
    }
    if (path !== '') throw bad(`URL must not contain a path: ${url}`);
  }
}

export class Cluster {
  constructor(private readonly transport: Transport) {}

  async add(
    peerURLs: readonly string[],
    options: { learner?: boolean } = {},
    call: CallOptions = {},
  ): Promise<MemberAddResponse> {
    validatePeerURLs(peerURLs);
    return this.transport.unary(
      ClusterService.memberAdd,
      { peerURLs: [...peerURLs], isLearner: options.learner ?? false },
      call,
    );
  }

  remove(id: bigint, call: CallOptions = {}): Promise<MemberRemoveResponse> {
    return this.transport.unary(ClusterService.memberRemove, { ID: id }, call);
  }

  async update(
    id: bigint,
    peerURLs: readonly string[],
    call: CallOptions = {},
  ): Promise<MemberUpdateResponse> {
    validatePeerURLs(peerURLs);
    return this.transport.unary(ClusterService.memberUpdate, { ID: id, peerURLs: [...peerURLs] }, call);
  }

  list(call: CallOptions = {}): Promise<MemberListResponse> {
    return this.transport.unary(
      ClusterService.memberList,
      { linearizable: false },
      { ...call, retryUnavailable: true },
    );
  }

  promote(id: bigint, call: CallOptions = {}): Promise<MemberPromoteResponse> {
    return this.transport.unary(ClusterService.memberPromote, { ID: id }, call);
  }
}
