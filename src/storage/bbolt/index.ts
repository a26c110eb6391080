// bbolt (etcd's fork of BoltDB) files: the format of etcd's backend and of `etcdctl snapshot save`.
// writeBbolt exports buckets as a compact file that etcd's tools accept; BboltReader reads and checks
// files written by etcd or by writeBbolt. See format.ts, writer.ts and reader.ts.

export { BboltError, type BboltEntry } from './format.js';
export { writeBbolt, type BboltBucketInput, type BboltWriteOptions } from './writer.js';
export { BboltReader, type BboltOpenOptions } from './reader.js';
