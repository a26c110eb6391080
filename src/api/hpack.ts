// HPACK (RFC 7541), the header compression of HTTP/2: a stateful decoder and encoder with the static
// and dynamic tables and the Huffman code. The client port's HTTP/2 (h2-connection.ts) decodes
// request headers with it and sends answers as stateless blocks (encodeStatelessBlock).
//
// Written here rather than taken from npm: the HPACK packages there are unmaintained (hpack.js: last
// release 2016, a stream API around a synchronous codec, pulls in readable-stream 2 and three more
// packages; hpack: one 2015 release that decodes strings as ASCII and uses the deprecated Buffer
// constructor), and Node's own HPACK (inside nghttp2) is not exposed.
//
// Header names and values are latin1 strings: one character per octet, so any byte survives a
// decode/encode round trip and `.length` is the octet count RFC 7541 sizes entries by.

export class HpackError extends Error {
  constructor(message: string) {
    super(`hpack: ${message}`);
    this.name = 'HpackError';
  }
}

export interface HeaderField {
  readonly name: string;
  readonly value: string;
  /** Sent as "never indexed" (RFC 7541 §6.2.3): whoever re-encodes it must keep that representation. */
  readonly sensitive: boolean;
}

/** The SETTINGS_HEADER_TABLE_SIZE default, also what Node's HTTP/2 (nghttp2) advertises. */
export const DEFAULT_TABLE_SIZE = 4096;

/** Per-entry overhead of a dynamic table entry (RFC 7541 §4.1). */
const ENTRY_OVERHEAD = 32;

/** RFC 7541 Appendix A. Index i of the spec is STATIC_TABLE[i - 1]. */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

const STATIC_FULL = new Map<string, number>();
const STATIC_NAME = new Map<string, number>();
STATIC_TABLE.forEach(([name, value], i) => {
  STATIC_FULL.set(`${name}\0${value}`, i + 1);
  if (!STATIC_NAME.has(name)) STATIC_NAME.set(name, i + 1);
});

// ---- Huffman code (RFC 7541 Appendix B) ----

/**
 * Code length in bits of each symbol 0..255 and EOS (256), from RFC 7541 Appendix B. The code is
 * canonical (codes of one length are consecutive, in symbol order, after all shorter ones), so the
 * lengths alone define it; the codes are rebuilt below (and checked against the RFC in the tests).
 */
// prettier-ignore
const HUFFMAN_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28,
  28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6,
  6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8,
  7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7,
  7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23,
  24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22,
  23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25,
  26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24,
  20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27,
  27, 27, 27, 26, 30,
];

const EOS = 256;
const MAX_CODE_LENGTH = 30;

interface HuffmanCode {
  /** Code of each symbol, right-aligned. */
  readonly codes: readonly number[];
  /** Symbols ordered by (length, symbol): the order canonical codes are handed out in. */
  readonly symbols: readonly number[];
  /** Per length: the first code of that length, and where its symbols start in `symbols`. */
  readonly firstCode: readonly number[];
  readonly firstIndex: readonly number[];
  readonly count: readonly number[];
}

function buildHuffmanCode(lengths: readonly number[]): HuffmanCode {
  const count = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
  for (const l of lengths) count[l]++;
  const symbols = lengths.map((_, s) => s).sort((a, b) => lengths[a] - lengths[b] || a - b);
  const firstCode = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
  const firstIndex = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
  let code = 0;
  let index = 0;
  for (let len = 1; len <= MAX_CODE_LENGTH; len++) {
    firstCode[len] = code;
    firstIndex[len] = index;
    code = (code + count[len]) * 2;
    index += count[len];
  }
  const codes = new Array<number>(lengths.length).fill(0);
  for (let len = 1; len <= MAX_CODE_LENGTH; len++) {
    for (let k = 0; k < count[len]; k++) codes[symbols[firstIndex[len] + k]] = firstCode[len] + k;
  }
  return { codes, symbols, firstCode, firstIndex, count };
}

const HUFFMAN = buildHuffmanCode(HUFFMAN_LENGTHS);

/** The Huffman code of a symbol (0..255, or 256 for EOS), for tests against the RFC's table. */
export function huffmanCodeOf(symbol: number): { readonly code: number; readonly bits: number } {
  return { code: HUFFMAN.codes[symbol], bits: HUFFMAN_LENGTHS[symbol] };
}

export function huffmanDecode(src: Uint8Array): Buffer {
  const out: number[] = [];
  const { firstCode, firstIndex, count, symbols } = HUFFMAN;
  let code = 0;
  let len = 0;
  for (const byte of src) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      len++;
      const offset = code - firstCode[len];
      if (offset < count[len]) {
        const sym = symbols[firstIndex[len] + offset];
        if (sym === EOS) throw new HpackError('EOS symbol inside a Huffman-encoded string');
        out.push(sym);
        code = 0;
        len = 0;
      } else if (len === MAX_CODE_LENGTH) {
        throw new HpackError('invalid Huffman code');
      }
    }
  }
  // What is left must be padding: a prefix of EOS (all ones) shorter than 8 bits (§5.2).
  if (len > 7) throw new HpackError('Huffman padding longer than 7 bits');
  if (code !== 2 ** len - 1) throw new HpackError('Huffman padding is not a prefix of EOS');
  return Buffer.from(out);
}

export function huffmanEncodedLength(src: Uint8Array): number {
  let bits = 0;
  for (const b of src) bits += HUFFMAN_LENGTHS[b];
  return Math.ceil(bits / 8);
}

export function huffmanEncode(src: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(huffmanEncodedLength(src));
  // `acc` holds fewer than 8 pending bits plus one code (at most 37 bits): exact in a double.
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (const b of src) {
    const len = HUFFMAN_LENGTHS[b];
    acc = acc * 2 ** len + HUFFMAN.codes[b];
    bits += len;
    while (bits >= 8) {
      bits -= 8;
      const unit = 2 ** bits;
      const top = Math.floor(acc / unit);
      out[o++] = top;
      acc -= top * unit;
    }
  }
  if (bits > 0) out[o++] = (acc << (8 - bits)) | (0xff >> bits);
  return out;
}

// ---- Primitive representations (§5) ----

/** Integers above this are refused: no legitimate header block needs them. */
const MAX_INTEGER = 0x7fffffff;

interface Cursor {
  readonly buf: Buffer;
  pos: number;
}

function decodeInteger(c: Cursor, prefixBits: number): number {
  if (c.pos >= c.buf.length) throw new HpackError('truncated integer');
  const max = (1 << prefixBits) - 1;
  let value = c.buf[c.pos++] & max;
  if (value < max) return value;
  let shift = 0;
  for (;;) {
    if (c.pos >= c.buf.length) throw new HpackError('truncated integer');
    const b = c.buf[c.pos++];
    value += (b & 0x7f) * 2 ** shift;
    if (value > MAX_INTEGER) throw new HpackError('integer too large');
    if ((b & 0x80) === 0) return value;
    shift += 7;
  }
}

function encodeInteger(out: number[], value: number, prefixBits: number, flags: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(flags | value);
    return;
  }
  out.push(flags | max);
  let rest = value - max;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

/** An integer with an N-bit prefix (§5.1); `flags` fills the bits above the prefix. */
export function encodeHpackInteger(value: number, prefixBits: number, flags = 0): Buffer {
  const out: number[] = [];
  encodeInteger(out, value, prefixBits, flags);
  return Buffer.from(out);
}

export function decodeHpackInteger(buf: Buffer, prefixBits: number): { value: number; length: number } {
  const c: Cursor = { buf, pos: 0 };
  const value = decodeInteger(c, prefixBits);
  return { value, length: c.pos };
}

function decodeString(c: Cursor): string {
  if (c.pos >= c.buf.length) throw new HpackError('truncated string');
  const huffman = (c.buf[c.pos] & 0x80) !== 0;
  const length = decodeInteger(c, 7);
  if (c.pos + length > c.buf.length) throw new HpackError('truncated string');
  const raw = c.buf.subarray(c.pos, c.pos + length);
  c.pos += length;
  return (huffman ? huffmanDecode(raw) : raw).toString('latin1');
}

function encodeString(out: number[], s: string, huffman: boolean): void {
  const raw = Buffer.from(s, 'latin1');
  if (huffman && huffmanEncodedLength(raw) <= raw.length) {
    const h = huffmanEncode(raw);
    encodeInteger(out, h.length, 7, 0x80);
    for (const b of h) out.push(b);
    return;
  }
  encodeInteger(out, raw.length, 7, 0);
  for (const b of raw) out.push(b);
}

// ---- Dynamic table (§2.3.2, §4) ----

class DynamicTable {
  /** Newest first: dynamic index 1 is entries[0]. */
  private readonly entries: [string, string][] = [];
  private size = 0;

  constructor(private maxSize: number) {}

  get length(): number {
    return this.entries.length;
  }

  get capacity(): number {
    return this.maxSize;
  }

  /** Entry by dynamic index (1-based). */
  get(i: number): readonly [string, string] | undefined {
    return this.entries[i - 1];
  }

  add(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    // An entry larger than the table empties it and is not added (§4.4).
    this.evictTo(Math.max(0, this.maxSize - size));
    if (size <= this.maxSize) {
      this.entries.unshift([name, value]);
      this.size += size;
    }
  }

  resize(maxSize: number): void {
    this.maxSize = maxSize;
    this.evictTo(maxSize);
  }

  /** Dynamic indexes (1-based) of the first entry matching name and value, and of the first matching name. */
  find(name: string, value: string): { full: number; name: number } {
    let nameIndex = 0;
    for (let i = 0; i < this.entries.length; i++) {
      const [n, v] = this.entries[i];
      if (n !== name) continue;
      if (v === value) return { full: i + 1, name: i + 1 };
      if (nameIndex === 0) nameIndex = i + 1;
    }
    return { full: 0, name: nameIndex };
  }

  private evictTo(limit: number): void {
    while (this.size > limit) {
      const [n, v] = this.entries.pop() as [string, string];
      this.size -= n.length + v.length + ENTRY_OVERHEAD;
    }
  }
}

// ---- Decoder ----

export interface HpackDecoderOptions {
  /** The SETTINGS_HEADER_TABLE_SIZE this side advertised: the most the encoder may use (default 4096). */
  readonly maxTableSize?: number;
  /** Refuse a header list larger than this (RFC 7540 list size: octets + 32 per field); default 1 MiB. */
  readonly maxListSize?: number;
}

/** Decodes one connection's header blocks in order (the dynamic table carries over between blocks). */
export class HpackDecoder {
  private readonly table: DynamicTable;
  private readonly maxTableSize: number;
  private readonly maxListSize: number;

  constructor(options: HpackDecoderOptions = {}) {
    this.maxTableSize = options.maxTableSize ?? DEFAULT_TABLE_SIZE;
    this.maxListSize = options.maxListSize ?? 1024 * 1024;
    this.table = new DynamicTable(this.maxTableSize);
  }

  /** Entries in the dynamic table (for tests). */
  get tableLength(): number {
    return this.table.length;
  }

  decode(block: Buffer): HeaderField[] {
    const c: Cursor = { buf: block, pos: 0 };
    const fields: HeaderField[] = [];
    let listSize = 0;
    while (c.pos < block.length) {
      const b = block[c.pos];
      if ((b & 0xe0) === 0x20) {
        // Dynamic table size update: only before the first field of a block (§4.2).
        if (fields.length > 0) throw new HpackError('table size update after a header field');
        const size = decodeInteger(c, 5);
        if (size > this.maxTableSize) throw new HpackError(`table size update to ${size} above the limit`);
        this.table.resize(size);
        continue;
      }
      let field: HeaderField;
      if (b & 0x80) {
        const [name, value] = this.lookup(decodeInteger(c, 7));
        field = { name, value, sensitive: false };
      } else {
        const indexing = (b & 0xc0) === 0x40;
        const index = decodeInteger(c, indexing ? 6 : 4);
        const name = index === 0 ? decodeString(c) : this.lookup(index)[0];
        const value = decodeString(c);
        if (indexing) this.table.add(name, value);
        field = { name, value, sensitive: !indexing && (b & 0x10) !== 0 };
      }
      listSize += field.name.length + field.value.length + ENTRY_OVERHEAD;
      if (listSize > this.maxListSize) throw new HpackError('header list too large');
      fields.push(field);
    }
    return fields;
  }

  private lookup(index: number): readonly [string, string] {
    if (index === 0) throw new HpackError('index 0');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1];
    const e = this.table.get(index - STATIC_TABLE.length);
    if (e === undefined) throw new HpackError(`index ${index} is not in the table`);
    return e;
  }
}

// ---- Encoder ----

/**
 * A header block that leaves the peer decoder's dynamic table alone: each field is a static-table
 * index or a literal without indexing (§6.2.2), strings without Huffman. Needing no encoder state,
 * it can be built once and sent on any connection, in any order with other such blocks.
 */
export function encodeStatelessBlock(fields: readonly (readonly [string, string])[]): Buffer {
  const out: number[] = [];
  for (const [name, value] of fields) {
    const full = STATIC_FULL.get(`${name}\0${value}`);
    if (full !== undefined) {
      encodeInteger(out, full, 7, 0x80);
      continue;
    }
    const nameIndex = STATIC_NAME.get(name) ?? 0;
    encodeInteger(out, nameIndex, 4, 0x00);
    if (nameIndex === 0) encodeString(out, name, false);
    encodeString(out, value, false);
  }
  return Buffer.from(out);
}

export interface HpackEncoderOptions {
  /** The peer decoder's SETTINGS_HEADER_TABLE_SIZE (default 4096). */
  readonly maxTableSize?: number;
  /** Huffman-encode strings unless that makes them longer (default true), as the RFC examples do. */
  readonly huffman?: boolean;
}

/**
 * Encodes one connection's header blocks in order, mirroring the peer decoder's dynamic table:
 * fields that fit comfortably (up to half the table) are added to it, sensitive ones never are.
 */
export class HpackEncoder {
  private readonly table: DynamicTable;
  private readonly huffman: boolean;
  private pendingResize: number | undefined;

  constructor(options: HpackEncoderOptions = {}) {
    this.table = new DynamicTable(options.maxTableSize ?? DEFAULT_TABLE_SIZE);
    this.huffman = options.huffman ?? true;
  }

  /** Uses a smaller (or, up to the peer's setting, larger) table from the next block on (§6.3). */
  resize(maxSize: number): void {
    this.pendingResize = maxSize;
  }

  encode(fields: readonly HeaderField[]): Buffer {
    const out: number[] = [];
    if (this.pendingResize !== undefined) {
      encodeInteger(out, this.pendingResize, 5, 0x20);
      this.table.resize(this.pendingResize);
      this.pendingResize = undefined;
    }
    for (const f of fields) this.encodeField(out, f);
    return Buffer.from(out);
  }

  private encodeField(out: number[], f: HeaderField): void {
    const dyn = this.table.find(f.name, f.value);
    const staticFull = STATIC_FULL.get(`${f.name}\0${f.value}`);
    const nameIndex = STATIC_NAME.get(f.name) ?? (dyn.name > 0 ? dyn.name + STATIC_TABLE.length : 0);
    if (f.sensitive) {
      encodeInteger(out, nameIndex, 4, 0x10);
    } else if (staticFull !== undefined) {
      encodeInteger(out, staticFull, 7, 0x80);
      return;
    } else if (dyn.full > 0) {
      encodeInteger(out, dyn.full + STATIC_TABLE.length, 7, 0x80);
      return;
    } else if ((f.name.length + f.value.length + ENTRY_OVERHEAD) * 2 <= this.table.capacity) {
      encodeInteger(out, nameIndex, 6, 0x40);
      if (nameIndex === 0) encodeString(out, f.name, this.huffman);
      encodeString(out, f.value, this.huffman);
      this.table.add(f.name, f.value);
      return;
    } else {
      encodeInteger(out, nameIndex, 4, 0x00);
    }
    if (nameIndex === 0) encodeString(out, f.name, this.huffman);
    encodeString(out, f.value, this.huffman);
  }
}
