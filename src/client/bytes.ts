// Keys and values are bytes on the wire; callers may pass strings (encoded as UTF-8).

export type Bytes = string | Uint8Array;

const encoder = new TextEncoder();

export function toBytes(value: Bytes): Uint8Array {
  return typeof value === 'string' ? encoder.encode(value) : value;
}

/**
 * The range end that selects every key starting with `prefix`: the prefix with its last byte
 * incremented after dropping trailing 0xff bytes; a prefix of only 0xff bytes (or empty) means "to the end" ("\0").
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = Uint8Array.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Uint8Array.of(0);
}

/** The range end meaning "every key >= key". */
export const FROM_KEY_END: Uint8Array = Uint8Array.of(0);
