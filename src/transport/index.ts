// The peer transport: raft messages and snapshots between members over HTTP/2.

export { PeerServer, type PeerServerOptions, type ReceivedStats } from './peer-server.js';
export { Transport, type TransportOptions, type TransportStats } from './transport.js';
export type { PeerStats, LinkState } from './peer-link.js';
export { DEFAULT_LIMITS, type TransportLimits } from './limits.js';
export {
  currentPeerTls,
  silentLogger,
  type PeerTlsMaterial,
  type PeerTlsOptions,
  type PeerTlsReload,
  type TransportLogger,
} from './types.js';
export {
  PATH_HASHKV,
  fetchPeerHashKV,
  type HashKVProvider,
  type PeerHashKV,
  type PeerHashKVResult,
} from './hashkv.js';
