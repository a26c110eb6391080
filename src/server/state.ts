// The replicated state of a member, all in one backend: the keyspace (with watch), the lessor and
// the alarms, wired to each other and to the applier. Opening rebuilds everything from the backend.

import { AuthStore, DEFAULT_SIMPLE_TTL_MS, SimpleTokens, type TokenProvider } from '../auth/index.js';
import { Lessor, type LessorConfig } from '../lease/index.js';
import { RaftCluster, type ClusterIdentity } from '../membership/index.js';
import { KvApplier } from '../mvcc/kv-apply.js';
import { KeyspaceStore, type KeyspaceLogger, type TxnEndHook } from '../mvcc/kv-store.js';
import { WatchableStore } from '../mvcc/watchable-store.js';
import type { Backend } from '../storage/backend/index.js';
import { AlarmStore } from './alarms.js';
import { Applier, type ApplierParts } from './apply.js';

export interface StateOptions {
  readonly identity: ClusterIdentity;
  readonly lessor: LessorConfig;
  /** The member's auth tokens (--auth-token; default: simple tokens with etcd's TTL). */
  readonly tokens?: TokenProvider;
  readonly logger: KeyspaceLogger;
  readonly onAlarm?: ApplierParts['onAlarm'];
  /** Counts the keyspace's operations (etcd_mvcc_*_total). */
  readonly onTxnEnd?: TxnEndHook;
}

export interface MemberState {
  readonly backend: Backend;
  readonly store: KeyspaceStore;
  readonly watchable: WatchableStore;
  readonly lessor: Lessor;
  readonly alarms: AlarmStore;
  readonly cluster: RaftCluster;
  readonly auth: AuthStore;
  readonly tokens: TokenProvider;
  readonly kv: KvApplier;
  readonly applier: Applier;
  /** Closes the keyspace; the watchers stay until `watchable.close()` (they may move to a new state). */
  close(): Promise<void>;
}

/**
 * Opens the state over `backend`. Given the state it replaces (a member installing the leader's
 * snapshot), its watchers move over and continue from the new keyspace.
 */
export function openState(backend: Backend, options: StateOptions, replaced?: MemberState): MemberState {
  // The lessor loads its leases first; the keyspace re-attaches keys to them while rebuilding its index.
  const lessor = new Lessor(backend.batchTx, options.lessor);
  const store = KeyspaceStore.open(backend, {
    leases: lessor,
    logger: options.logger,
    onTxnEnd: options.onTxnEnd,
  });
  lessor.setKeyspace({ deleteKeys: (keys) => void store.deleteKeys(keys) });
  let watchable: WatchableStore;
  if (replaced === undefined) watchable = new WatchableStore(store, backend);
  else {
    watchable = replaced.watchable;
    watchable.restore(store, backend);
  }
  const alarms = new AlarmStore(backend.batchTx);
  const cluster = RaftCluster.recover(options.identity, backend.batchTx);
  // Sessions outlive a state replaced by a leader's snapshot: the new state keeps the old provider.
  const tokens = options.tokens ?? replaced?.tokens ?? new SimpleTokens(DEFAULT_SIMPLE_TTL_MS, Date.now);
  const auth = new AuthStore(backend.batchTx, {
    userInvalidated: (name) => tokens.invalidateUser(name),
    enabledChanged: (enabled) => tokens.setEnabled(enabled),
  });
  tokens.setEnabled(auth.isEnabled);
  const kv = new KvApplier(store, (id) => lessor.has(id));
  const applier = new Applier({ kv, lessor, alarms, cluster, auth, tokens, onAlarm: options.onAlarm });
  return {
    backend,
    store,
    watchable,
    lessor,
    alarms,
    cluster,
    auth,
    tokens,
    kv,
    applier,
    async close() {
      await store.close();
    },
  };
}
