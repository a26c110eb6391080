// Spreading expiries after a promotion. A new leader restarts every lease at once, so leases that
// were granted together (say, by a restarted fleet of clients) would all expire in the same instant
// and flood raft with revocations. As etcd does, the new leader counts leases per one-second window of
// remaining time and, past 3/4 of the revoke rate in a window, pushes each further lease back so
// that window drains at that pace.

/**
 * `remainingMs` must be sorted ascending. Returns the extra delay (ms, 0 for most) for each entry.
 * Only called when there are at least `revokeRate` leases.
 */
export function spreadDelays(remainingMs: readonly number[], revokeRate: number): number[] {
  const delays = new Array<number>(remainingMs.length).fill(0);
  if (remainingMs.length === 0) return delays;
  const target = Math.max(1, Math.floor((3 * revokeRate) / 4)); // below the rate, so a backlog drains
  let base = remainingMs[0];
  let windowEnd = base + 1000;
  let count = 0;
  for (let i = 0; i < remainingMs.length; i++) {
    const remaining = remainingMs[i];
    if (remaining > windowEnd) {
      base = remaining;
      windowEnd = base + 1000;
      count = 1;
      continue;
    }
    count++;
    if (count <= target) continue;
    // The count-th lease of the window leaves count/target seconds after its start; a lease that was
    // already later than the window start needs that much less.
    const delay = (1000 * count) / target - (remaining - base);
    windowEnd = base + delay;
    delays[i] = delay;
  }
  return delays;
}
