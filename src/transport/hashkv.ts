// GET /members/hashkv on the peer port: one member asks another for the hash of its keyspace at a
// revision, for etcd's corruption checks. The wire form is etcd 3.4's (etcdserver/corrupt.go, checked
// against etcd 3.4.23): a GET whose body is the JSON of an etcdserverpb.HashKVRequest
// (`{"revision":5}`), answered with the JSON of a HashKVResponse whose header holds only the revision
// (`{"header":{"revision":7},"hash":123,"compact_revision":-1}`). A refusal is a 400 with the mvcc
// error's text ("mvcc: required revision is a future revision", "... has been compacted"); a bad body
// is a 400 "error unmarshalling request"; another method is a 405 with `Allow: GET`.

import http from 'node:http';
import https from 'node:https';

import { errorText, peerClientOptions, type PeerTlsOptions } from './types.js';

export const PATH_HASHKV = '/members/hashkv';

/** A member's keyspace hash as the peer call carries it. */
export interface PeerHashKV {
  /** The answering member's current revision (the response header's). */
  readonly revision: number;
  readonly compactRevision: number;
  readonly hash: number;
}

/** The answering side: the hash at `revision` (0: the current one); rejects with the mvcc error. */
export type HashKVProvider = (revision: number) => Promise<PeerHashKV>;

/** A peer's answer as the asking side sees it (etcd's rpctypes.ErrFutureRev / ErrCompacted / other). */
export type PeerHashKVResult =
  | ({ readonly kind: 'ok' } & PeerHashKV)
  | { readonly kind: 'future-revision'; readonly message: string }
  | { readonly kind: 'compacted'; readonly message: string }
  | { readonly kind: 'failed'; readonly message: string };

const FUTURE_REV_TEXT = 'mvcc: required revision is a future revision';
const COMPACTED_TEXT = 'mvcc: required revision has been compacted';

// ---- The answering side ---------------------------------------------------------------------------

export interface HashKVAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The answer to one request (no I/O of its own, so both HTTP/1.1 and HTTP/2 routes share it). */
export async function answerHashKV(
  method: string | undefined,
  body: Uint8Array,
  provider: HashKVProvider | undefined,
): Promise<HashKVAnswer> {
  const text = { 'content-type': 'text/plain; charset=utf-8' };
  if (provider === undefined) return { status: 404, headers: text, body: 'not found\n' };
  if (method !== 'GET') {
    return { status: 405, headers: { ...text, allow: 'GET' }, body: 'Method Not Allowed\n' };
  }
  const revision = decodeHashKVRequest(body);
  if (revision === undefined) return { status: 400, headers: text, body: 'error unmarshalling request\n' };
  let h: PeerHashKV;
  try {
    h = await provider(revision);
  } catch (e) {
    // etcd answers with the mvcc error itself, without the "etcdserver: " of its gRPC form.
    return { status: 400, headers: text, body: `${errorText(e).replace(/^etcdserver: /, '')}\n` };
  }
  return { status: 200, headers: { 'content-type': 'application/json' }, body: encodeHashKVResponse(h) };
}

/** The revision asked for, or undefined when the body is not a HashKVRequest's JSON (as Go's decoder). */
export function decodeHashKVRequest(body: Uint8Array): number | undefined {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return undefined;
  }
  if (v === null) return 0;
  if (typeof v !== 'object' || Array.isArray(v)) return undefined;
  const r = (v as { revision?: unknown }).revision;
  if (r === undefined || r === null) return 0;
  return typeof r === 'number' && Number.isSafeInteger(r) ? r : undefined;
}

/** Go's encoding/json of the request: zero fields are left out. */
export function encodeHashKVRequest(revision: number): string {
  return revision === 0 ? '{}' : JSON.stringify({ revision });
}

/** Go's encoding/json of etcd's answer: a header with only the revision; zero fields left out. */
export function encodeHashKVResponse(h: PeerHashKV): string {
  const out: Record<string, unknown> = { header: h.revision === 0 ? {} : { revision: h.revision } };
  if (h.hash !== 0) out.hash = h.hash;
  if (h.compactRevision !== 0) out.compact_revision = h.compactRevision;
  return JSON.stringify(out);
}

export function decodeHashKVResponse(text: string): PeerHashKV {
  const v = JSON.parse(text) as {
    header?: { revision?: unknown } | null;
    hash?: unknown;
    compact_revision?: unknown;
  };
  const num = (x: unknown, what: string): number => {
    if (x === undefined || x === null) return 0;
    if (typeof x === 'number' && Number.isSafeInteger(x)) return x;
    // Go's jsonpb would quote 64-bit numbers; accept that too.
    if (typeof x === 'string' && /^-?\d+$/.test(x)) return Number(x);
    throw new Error(`bad ${what} in hashKV response: ${JSON.stringify(x)}`);
  };
  return {
    revision: num(v.header?.revision, 'revision'),
    hash: num(v.hash, 'hash'),
    compactRevision: num(v.compact_revision, 'compact_revision'),
  };
}

// ---- The asking side ------------------------------------------------------------------------------

/**
 * Asks the member at peer URL `url` for its hash at `revision` (etcd's getPeerHashKVHTTP). Never
 * rejects: a connection failure, a timeout or an unknown answer is `failed`.
 */
export async function fetchPeerHashKV(
  url: string,
  revision: number,
  timeoutMs: number,
  tlsOptions?: PeerTlsOptions,
): Promise<PeerHashKVResult> {
  let target: URL;
  try {
    target = new URL(PATH_HASHKV, url);
  } catch (e) {
    return { kind: 'failed', message: errorText(e) };
  }
  const body = encodeHashKVRequest(revision);
  const lib = target.protocol === 'https:' ? https : http;
  const answer = await new Promise<{ status: number; text: string } | { error: string }>((resolve) => {
    const req = lib.request(
      target,
      {
        method: 'GET',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: timeoutMs,
        ...(tlsOptions === undefined ? {} : peerClientOptions(tlsOptions)),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', (e) => resolve({ error: errorText(e) }));
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ error: errorText(e) }));
    req.on('close', () => clearTimeout(timer));
    req.end(body);
  });
  if ('error' in answer) return { kind: 'failed', message: answer.error };
  if (answer.status === 400) {
    if (answer.text.includes(COMPACTED_TEXT)) return { kind: 'compacted', message: answer.text.trim() };
    if (answer.text.includes(FUTURE_REV_TEXT))
      return { kind: 'future-revision', message: answer.text.trim() };
  }
  if (answer.status !== 200) return { kind: 'failed', message: `unknown error: ${answer.text.trim()}` };
  try {
    return { kind: 'ok', ...decodeHashKVResponse(answer.text) };
  } catch (e) {
    return { kind: 'failed', message: errorText(e) };
  }
}
