// Tunables of the sending side, with defaults chosen for a LAN cluster with etcd's default timings
// (100 ms heartbeat, 1 s election timeout).

export interface TransportLimits {
  /** Messages queued for one peer before new ones are dropped (etcd's stream buffer is 4096). */
  readonly maxQueuedMessages: number;
  /** Encoded bytes queued for one peer before new messages are dropped. */
  readonly maxQueuedBytes: number;
  /** Time to get the stream accepted (TCP connect, HTTP/2 handshake, response headers). */
  readonly dialTimeoutMs: number;
  /** First reconnect delay after a failure; doubles per consecutive failure up to maxBackoffMs. */
  readonly initialBackoffMs: number;
  /** Reconnect delay cap: below the election timeout, so a restarted peer is back within one. */
  readonly maxBackoffMs: number;
  /** HTTP/2 PING period: measures round-trip time and detects dead connections (2 unanswered). */
  readonly pingIntervalMs: number;
  /** A snapshot upload with no progress in either direction this long is abandoned. */
  readonly snapshotIdleTimeoutMs: number;
}

export const DEFAULT_LIMITS: TransportLimits = {
  maxQueuedMessages: 4096,
  maxQueuedBytes: 64 * 1024 * 1024,
  dialTimeoutMs: 3000,
  initialBackoffMs: 50,
  maxBackoffMs: 800,
  pingIntervalMs: 5000,
  snapshotIdleTimeoutMs: 60_000,
};

/** Delay before reconnect attempt number `failures` (1 for the first failure). */
export function backoffDelay(limits: TransportLimits, failures: number): number {
  const exp = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(limits.initialBackoffMs * 2 ** exp, limits.maxBackoffMs);
}
