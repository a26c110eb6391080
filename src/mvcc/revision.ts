// A revision of the keyspace: the main revision of the write (one per write request or txn) and the
// sub revision of the change within it. Both are numbers below 2^53 (see storage/backend/revision.ts).

export interface Revision {
  readonly main: number;
  readonly sub: number;
}

export function compareRevisions(a: Revision, b: Revision): number {
  return a.main !== b.main ? a.main - b.main : a.sub - b.sub;
}

export function revisionLabel(r: Revision): string {
  return `${r.main}.${r.sub}`;
}
