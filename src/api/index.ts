// The client port of a member: gRPC, the JSON gateway, /health, /version and /metrics on one port.

export {
  startClientPort,
  type ClientPort,
  type ClientPortAddress,
  type ClientPortOptions,
} from './client-port.js';
export { GRPC_OVERHEAD_BYTES, MAX_SEND_BYTES, maxReceiveBytes } from './grpc-server.js';
export type { ClientPortLogger } from './logger.js';
export { INSECURE, type ClientPortSecurity } from './security.js';
