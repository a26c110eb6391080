// What the lessor needs from other modules, as interfaces they implement (so lease/ imports neither
// mvcc/ nor the concrete backend).

/**
 * The `lease` bucket through the backend's batch transaction. `Backend.batchTx` satisfies it. Writes
 * land in the batch that commits with the consistent index of the entry being applied; the lessor
 * never commits.
 */
export interface LeaseStore {
  put(bucket: 'lease', key: Uint8Array, value: Uint8Array): void;
  delete(bucket: 'lease', key: Uint8Array): void;
  /** Every row with start <= key (< end); an empty start means from the first key. */
  range(
    bucket: 'lease',
    start: Uint8Array,
    end?: Uint8Array,
  ): readonly { readonly key: Uint8Array; readonly value: Uint8Array }[];
}

/**
 * The keyspace side of a revocation, implemented by mvcc. Called inside apply.
 */
export interface LeaseKeyspace {
  /**
   * Deletes every key in `keys` (never empty, sorted by key bytes, no duplicates) as ONE write: one
   * new revision, a DELETE event per key in this order. Keys that no longer exist are skipped. It may
   * call `Lessor.detach` for these keys (the lease still exists while this runs) or not; the lessor
   * drops the attachments itself afterwards.
   */
  deleteKeys(keys: readonly Uint8Array[]): void;
}
