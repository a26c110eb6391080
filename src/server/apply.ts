// Applies one committed client request (an InternalRaftRequest) to the state machines: the keyspace,
// the lessor and the alarm store. Every member applies the same entries in the same order and gets
// the same state and the same answer, which the proposing member hands to its waiting client.
// While a NOSPACE alarm is raised, requests that add data are refused; while CORRUPT is raised,
// everything is (etcd's capped and corrupt appliers).

import type { AuthInfo, AuthStore, TokenProvider } from '../auth/index.js';
import { errNoSpace as errKeyspaceNoSpace } from '../mvcc/errors.js';
import { header, type KvApplier } from '../mvcc/kv-apply.js';
import type { Lessor } from '../lease/lessor.js';
import type { RaftCluster } from '../membership/index.js';
import {
  AlarmRequest_AlarmAction,
  AlarmType,
  type AlarmRequest,
  type AlarmResponse,
  type LeaseGrantResponse,
  type LeaseRevokeResponse,
} from '../proto/etcdserverpb/rpc.js';
import type { InternalRaftRequest } from '../proto/etcdserverpb/raft_internal.js';
import type { AlarmStore } from './alarms.js';
import { applyAuth, checkPermitted } from './apply-auth.js';
import { errCorrupt } from './errors.js';
import { txnCost } from './quota.js';

/** What applying produced for the waiting client: a response, or the error to answer with. */
export type ApplyOutcome =
  | {
      readonly ok: true;
      readonly response: object;
      readonly compacted?: Promise<void>;
      /** Authenticate with JWTs: the proposer signs a token for this user and revision. */
      readonly toSign?: AuthInfo;
    }
  | { readonly ok: false; readonly error: Error };

export interface ApplierParts {
  readonly kv: KvApplier;
  readonly lessor: Lessor;
  readonly alarms: AlarmStore;
  readonly cluster: RaftCluster;
  readonly auth: AuthStore;
  readonly tokens: TokenProvider;
  /** Told when an alarm is raised or cleared (for logs and metrics). */
  readonly onAlarm?: (action: 'raised' | 'cleared', memberId: bigint, type: AlarmType) => void;
}

export class Applier {
  constructor(private readonly parts: ApplierParts) {}

  /** Applies `r`, the request of the raft entry at `index`. */
  apply(r: InternalRaftRequest, index = 0): ApplyOutcome {
    try {
      return { ok: true, ...this.dispatch(r, index) };
    } catch (e) {
      return { ok: false, error: e instanceof Error ? e : new Error(String(e)) };
    }
  }

  private dispatch(
    r: InternalRaftRequest,
    index: number,
  ): { response: object; compacted?: Promise<void>; toSign?: AuthInfo } {
    const { kv, lessor, alarms, auth } = this.parts;
    // Alarm requests always go through: they are how an alarm is cleared.
    if (r.alarm !== undefined) return { response: this.alarm(r.alarm) };
    // Membership housekeeping is never refused either: members must be able to publish themselves.
    if (r.clusterMemberAttrSet !== undefined) {
      const { memberID, memberAttributes } = r.clusterMemberAttrSet;
      this.parts.cluster.setAttributes(memberID, {
        name: memberAttributes?.name ?? '',
        clientUrls: memberAttributes?.clientUrls ?? [],
      });
      return { response: {} };
    }
    if (r.clusterVersionSet !== undefined) {
      this.parts.cluster.setVersion(r.clusterVersionSet.ver);
      return { response: {} };
    }
    if (alarms.has(AlarmType.CORRUPT)) throw errCorrupt();
    const capped = alarms.has(AlarmType.NOSPACE);
    checkPermitted(auth, lessor, r);
    const authApplied = applyAuth(auth, this.parts.tokens, r, index);
    if (authApplied !== undefined) {
      return {
        response: { header: header(kv.store.revision), ...authApplied.response },
        toSign: authApplied.toSign,
      };
    }
    if (r.put !== undefined) {
      if (capped) throw errKeyspaceNoSpace();
      return { response: kv.put(r.put).response };
    }
    if (r.deleteRange !== undefined) return { response: kv.deleteRange(r.deleteRange).response };
    if (r.txn !== undefined) {
      if (capped && txnCost(r.txn) > 0) throw errKeyspaceNoSpace();
      return { response: kv.txn(r.txn).response };
    }
    if (r.range !== undefined) return { response: kv.range(r.range) };
    if (r.compaction !== undefined) {
      const { response, done } = kv.compact(r.compaction);
      return { response, compacted: done };
    }
    if (r.leaseGrant !== undefined) {
      if (capped) throw errKeyspaceNoSpace();
      const g = lessor.grant(r.leaseGrant.ID, r.leaseGrant.TTL);
      const response: LeaseGrantResponse = {
        header: header(kv.store.revision),
        ID: g.ID,
        TTL: g.TTL,
        error: '',
      };
      return { response };
    }
    if (r.leaseRevoke !== undefined) {
      lessor.revoke(r.leaseRevoke.ID);
      const response: LeaseRevokeResponse = { header: header(kv.store.revision) };
      return { response };
    }
    if (r.leaseCheckpoint !== undefined) {
      lessor.applyCheckpoints(r.leaseCheckpoint);
      return { response: { header: header(kv.store.revision) } };
    }
    throw new Error('apply: an entry with no request this member knows');
  }

  private alarm(a: AlarmRequest): AlarmResponse {
    const { kv, alarms, onAlarm } = this.parts;
    const response: AlarmResponse = { header: header(kv.store.revision), alarms: [] };
    switch (a.action) {
      case AlarmRequest_AlarmAction.GET:
        response.alarms = alarms.get(a.alarm);
        break;
      case AlarmRequest_AlarmAction.ACTIVATE: {
        const raised = alarms.activate(a.memberID, a.alarm);
        if (raised !== undefined) {
          response.alarms = [raised];
          onAlarm?.('raised', raised.memberID, raised.alarm);
        }
        break;
      }
      case AlarmRequest_AlarmAction.DEACTIVATE: {
        const cleared = alarms.deactivate(a.memberID, a.alarm);
        if (cleared !== undefined) {
          response.alarms = [cleared];
          onAlarm?.('cleared', cleared.memberID, cleared.alarm);
        }
        break;
      }
      default:
        break;
    }
    return response;
  }
}
