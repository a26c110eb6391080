// Streams that asked for a leader (gRPC metadata `hasleader=true`, clientv3.WithRequireLeader) are
// cancelled when the member has been without one for a while, so their clients reconnect to a
// member that has one. As etcd's v3rpc monitorLeader: check every election timeout; on the
// MAX_NO_LEADER_CHECKS-th consecutive check without a leader, cancel every such stream. etcd waits
// that long because re-establishing a watch costs far more than refusing a new request.

/** etcd's maxNoLeaderCnt: consecutive leaderless checks before the streams are cancelled. */
export const MAX_NO_LEADER_CHECKS = 3;

export class LeaderMonitor {
  private readonly streams = new Set<() => void>();
  private misses = 0;
  private readonly timer: NodeJS.Timeout | undefined;

  /**
   * `intervalMs`: the election timeout. Without it no timer runs and checks happen only through
   * check() (for tests).
   */
  constructor(
    private readonly hasLeader: () => boolean,
    intervalMs?: number,
  ) {
    if (intervalMs !== undefined) {
      this.timer = setInterval(() => this.check(), intervalMs);
      // A monitor alone must not keep the process alive.
      this.timer.unref();
    }
  }

  /** Streams being watched (for tests). */
  get size(): number {
    return this.streams.size;
  }

  /**
   * Watches a stream until the returned function is called (the stream ended by itself). `cancel`
   * is called at most once, when the leader has been missing too long; the stream is then no longer
   * watched.
   */
  track(cancel: () => void): () => void {
    this.streams.add(cancel);
    return () => void this.streams.delete(cancel);
  }

  /** One election timeout passed. */
  check(): void {
    this.misses = this.hasLeader() ? 0 : this.misses + 1;
    if (this.misses < MAX_NO_LEADER_CHECKS) return;
    const cancelled = [...this.streams];
    this.streams.clear();
    for (const cancel of cancelled) cancel();
  }

  close(): void {
    clearInterval(this.timer);
    this.streams.clear();
  }
}
