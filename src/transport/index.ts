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
  ACCEPTED_CIPHER_SUITES,
  cipherChoice,
  opensslCipherName,
  tls13Defaults,
  UnknownCipherSuiteError,
  type CipherChoice,
} from './cipher-suites.js';
export { caSubjects, crlProblem, readCrlFile, type CrlFile, type CrlSummary } from './crl.js';
export { certIdentityError, hasIdentityPolicy, type CertIdentityPolicy } from './cert-identity.js';
export {
  PATH_HASHKV,
  fetchPeerHashKV,
  type HashKVProvider,
  type PeerHashKV,
  type PeerHashKVResult,
} from './hashkv.js';
