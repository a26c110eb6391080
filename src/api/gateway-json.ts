// The JSON of etcd 3.4's gateway (grpc-gateway v1 with jsonpb, original proto field names):
//  - requests: one JSON object per message (a body may hold several for the streams, back to back);
//    either field-name style is accepted, bytes are base64, 64-bit integers numbers or strings;
//  - responses: proto field names (`create_revision`, but `dbSize` where the .proto says so), 64-bit
//    integers as strings, default values omitted, and Go's HTML-safe escaping of strings.
// ts-proto's toJSON already omits defaults and stringifies int64; only the names differ, for the
// fields whose proto name has an underscore.

/** ts-proto (JSON) name -> proto field name, for every response field whose names differ. */
const PROTO_NAMES: Readonly<Record<string, string>> = {
  createRevision: 'create_revision',
  modRevision: 'mod_revision',
  prevKv: 'prev_kv',
  prevKvs: 'prev_kvs',
  compactRevision: 'compact_revision',
  hashRevision: 'hash_revision',
  cancelReason: 'cancel_reason',
  watchId: 'watch_id',
  responseRange: 'response_range',
  responsePut: 'response_put',
  responseDeleteRange: 'response_delete_range',
  responseTxn: 'response_txn',
  remainingBytes: 'remaining_bytes',
  rangeEnd: 'range_end',
};

/**
 * ResponseHeader's names, applied only under a `header` key: StatusResponse has a field whose proto
 * name really is `raftTerm`, so a global table would rename it wrongly.
 */
const HEADER_NAMES: Readonly<Record<string, string>> = {
  clusterId: 'cluster_id',
  memberId: 'member_id',
  raftTerm: 'raft_term',
};

function renamed(v: unknown, names: Readonly<Record<string, string>> = PROTO_NAMES): unknown {
  if (Array.isArray(v)) return v.map((e) => renamed(e));
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, inner] of Object.entries(v)) {
    out[names[k] ?? k] = k === 'header' ? renamed(inner, HEADER_NAMES) : renamed(inner);
  }
  return out;
}

const GO_ESCAPES: Readonly<Record<string, string>> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/** JSON text as Go's encoder writes it (these characters only ever occur inside strings). */
export function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c]);
}

/** A response message (ts-proto toJSON output) as the gateway's JSON text. */
export function gatewayJson(tsProtoJson: unknown): string {
  return goJson(renamed(tsProtoJson));
}

/** The gateway's error body (grpc-gateway v1): the message twice and the gRPC code. */
export function errorBody(code: number, message: string): string {
  return goJson({ error: message, message, code });
}

export type Parsed =
  | { readonly kind: 'value'; readonly value: unknown; readonly rest: string }
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'end' }
  | { readonly kind: 'error'; readonly message: string };

const TYPE_OF_START: Readonly<Record<string, string>> = {
  '[': 'array',
  '"': 'string',
  t: 'bool',
  f: 'bool',
};

/**
 * The next request object in `text` (whitespace before it skipped). `final` says no more text will
 * come, so an unfinished value is an error rather than 'incomplete'. Error texts are Go's for the
 * common mistakes, since clients see them.
 */
export function nextObject(text: string, final: boolean): Parsed {
  let i = 0;
  while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t'))
    i++;
  if (i === text.length) return { kind: 'end' };
  const c = text[i];
  if (c !== '{') {
    if (c === 'n' && text.startsWith('null', i)) return { kind: 'value', value: {}, rest: text.slice(i + 4) };
    const type = TYPE_OF_START[c] ?? (c === '-' || (c >= '0' && c <= '9') ? 'number' : undefined);
    if (type === undefined)
      return { kind: 'error', message: `invalid character '${c}' looking for beginning of value` };
    return {
      kind: 'error',
      message: `json: cannot unmarshal ${type} into Go value of type map[string]json.RawMessage`,
    };
  }
  const end = objectEnd(text, i);
  if (end < 0) return final ? { kind: 'error', message: 'unexpected EOF' } : { kind: 'incomplete' };
  try {
    return { kind: 'value', value: JSON.parse(text.slice(i, end)), rest: text.slice(end) };
  } catch (e) {
    return { kind: 'error', message: e instanceof Error ? e.message : String(e) };
  }
}

/** The index after the object starting at `start`, or -1 if the text ends inside it. */
function objectEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}
