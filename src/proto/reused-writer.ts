// Encoding a generated message through one long-lived writer. The generated encode() starts a new
// BinaryWriter each time, whose buffer then grows by doubling (128, 256, 512 bytes, each step a copy)
// for every message; a reused writer keeps its grown buffer and finish() hands out one exact copy.
// Encoding is synchronous and never re-entrant, so one writer serves every caller. After a failed
// encode (its state is unknown) or an unusually large message the writer is replaced.
// (Hand-written, not generated: scripts/gen-proto.sh keeps the files at this level.)
//
// src/raft/codec.ts does the same for raft's own messages; the raft core imports nothing of ours.

import { BinaryWriter } from '@bufbuild/protobuf/wire';

const RETAIN_LIMIT = 1 << 20;
let writer = new BinaryWriter();

/** `fns.encode(message)` as exact bytes, through the shared writer. */
export function encoded<T>(
  fns: { encode(message: T, writer: BinaryWriter): BinaryWriter },
  message: T,
): Uint8Array {
  const w = writer;
  try {
    fns.encode(message, w);
  } catch (e) {
    writer = new BinaryWriter();
    throw e;
  }
  const out = w.finish();
  if (out.byteLength > RETAIN_LIMIT) writer = new BinaryWriter();
  return out;
}
