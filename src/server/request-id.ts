// Request IDs unique across the cluster and across restarts, built as etcd builds them: the low 16
// bits of the member ID, then the start time in milliseconds (40 bits), then a counter (8 bits) that
// carries into the time bits. A restart starts from a later time, so it never reuses an ID.

const MASK_64 = (1n << 64n) - 1n;

export class RequestIdGenerator {
  private readonly prefix: bigint;
  private suffix: bigint;

  constructor(memberId: bigint, nowMs: number) {
    this.prefix = (memberId & 0xffffn) << 48n;
    this.suffix = (BigInt(Math.floor(nowMs)) & ((1n << 40n) - 1n)) << 8n;
  }

  next(): bigint {
    this.suffix = (this.suffix + 1n) & ((1n << 48n) - 1n);
    return (this.prefix | this.suffix) & MASK_64;
  }
}
