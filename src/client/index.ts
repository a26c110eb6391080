// Public surface of the client library.

export { Auth, parsePermissionType, PermissionType, type UserAddOptions } from './auth.js';
export { Client, type ConnectOptions } from './client.js';
export { FROM_KEY_END, prefixEnd, toBytes, type Bytes } from './bytes.js';
export { Cluster } from './cluster.js';
export { codeName, EtcdError, toEtcdError } from './errors.js';
export {
  cmp,
  isCompareOperator,
  KV,
  op,
  SortOrder,
  SortTarget,
  type CompareOperator,
  type DeleteOptions,
  type KeyRange,
  type PutOptions,
  type RangeOptions,
} from './kv.js';
export { KeepAlive, Lease } from './lease.js';
export { AlarmType, Maintenance } from './maintenance.js';
export type { AttemptFailure, CallOptions, ClientTlsOptions, TransportOptions } from './transport.js';
export { Watch, WatchFilter, WatchStream, type OpenWatchOptions, type WatchOptions } from './watch.js';
