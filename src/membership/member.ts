// A cluster member and its JSON, byte for byte as etcd 3.4 writes it to the backend `members` bucket,
// the peer endpoint `GET /members` and raft ConfChange contexts. Field order and omissions follow Go's
// encoding of etcd's Member struct: `id` (a uint64 number), `peerURLs` (null when absent),
// `isLearner` (only when true), `name` and `clientURLs` (only when non-empty). The ID never passes
// through a JS number.

import { compareStrings } from './urls.js';
import {
  JsonSyntaxError,
  goJsonString,
  isJsonObject,
  jsonField,
  jsonUint64,
  parseJson,
  type JsonObject,
  type JsonValue,
} from './json.js';

export interface Member {
  readonly id: bigint;
  /** Empty until the member publishes its attributes (etcd: "unstarted"). */
  readonly name: string;
  /** Normalised URL strings (see urls.ts), sorted. */
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
}

/** The value etcd puts in `members_removed` for each removed ID. */
export const REMOVED_MEMBER_VALUE = 'removed';

/** etcd counts a member as started once it has published a name. */
export function isStarted(m: Member): boolean {
  return m.name !== '';
}

export function compareIds(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortMembers(members: Iterable<Member>): Member[] {
  return [...members].sort((a, b) => compareIds(a.id, b.id));
}

export function makeMember(fields: Partial<Member> & Pick<Member, 'id'>): Member {
  return {
    id: fields.id,
    name: fields.name ?? '',
    peerUrls: fields.peerUrls ?? [],
    clientUrls: fields.clientUrls ?? [],
    isLearner: fields.isLearner ?? false,
  };
}

export class MemberJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MemberJsonError';
  }
}

const stringList = (list: readonly string[]): string => '[' + list.map(goJsonString).join(',') + ']';

/**
 * The member's fields as Go writes them, without the braces, so the conf-change context can append
 * `isPromote`. `peerUrlsNull` reproduces a nil slice (etcd's promote context has no URLs).
 */
function memberFields(m: Member, peerUrlsNull = false): string {
  let s = `"id":${m.id.toString(10)},"peerURLs":${peerUrlsNull ? 'null' : stringList(m.peerUrls)}`;
  if (m.isLearner) s += ',"isLearner":true';
  if (m.name !== '') s += `,"name":${goJsonString(m.name)}`;
  if (m.clientUrls.length > 0) s += `,"clientURLs":${stringList(m.clientUrls)}`;
  return s;
}

/** The JSON etcd stores in the `members` bucket and serves from `GET /members`. */
export function encodeMemberJson(m: Member): string {
  return '{' + memberFields(m) + '}';
}

export function encodeMember(m: Member): Uint8Array {
  return new Uint8Array(Buffer.from(encodeMemberJson(m), 'utf8'));
}

function stringsField(obj: JsonObject, name: string): string[] {
  const v = jsonField(obj, name);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new MemberJsonError(`member JSON: ${name} is not an array`);
  return v.map((item: JsonValue) => {
    if (typeof item !== 'string') throw new MemberJsonError(`member JSON: ${name} holds a non-string`);
    return item;
  });
}

function boolField(obj: JsonObject, name: string): boolean {
  const v = jsonField(obj, name);
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new MemberJsonError(`member JSON: ${name} is not a boolean`);
  return v;
}

function memberFromObject(obj: JsonValue): Member {
  if (!isJsonObject(obj)) throw new MemberJsonError('member JSON: not an object');
  const idValue = jsonField(obj, 'id');
  let id = 0n;
  if (idValue !== undefined && idValue !== null) {
    try {
      id = jsonUint64(idValue, 'member JSON: id');
    } catch (e) {
      if (e instanceof JsonSyntaxError) throw new MemberJsonError(e.message);
      throw e;
    }
  }
  const nameValue = jsonField(obj, 'name');
  if (nameValue !== undefined && nameValue !== null && typeof nameValue !== 'string') {
    throw new MemberJsonError('member JSON: name is not a string');
  }
  return {
    id,
    name: typeof nameValue === 'string' ? nameValue : '',
    peerUrls: stringsField(obj, 'peerURLs'),
    clientUrls: stringsField(obj, 'clientURLs'),
    isLearner: boolField(obj, 'isLearner'),
  };
}

function parse(data: string | Uint8Array): JsonValue {
  const text =
    typeof data === 'string'
      ? data
      : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  try {
    return parseJson(text);
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw new MemberJsonError(`member JSON: ${e.message}`);
    throw e;
  }
}

/**
 * Reads a member as Go's json.Unmarshal would into etcd's Member: keys match case-insensitively,
 * unknown keys are ignored, null and missing fields are zero values. Peer and client URLs are kept as
 * written (etcd does not re-normalise them on read).
 */
export function decodeMember(data: string | Uint8Array): Member {
  return memberFromObject(parse(data));
}

// ---- ConfChange contexts ---------------------------------------------------------------------------

/** What an etcd 3.4 ConfChange carries in `context`. */
export interface ConfChangeContext {
  readonly member: Member;
  /** An addNode for an existing learner, i.e. MemberPromote. */
  readonly isPromote: boolean;
}

/**
 * The context of an addNode/addLearnerNode proposed at runtime (etcd 3.4's ConfigChangeContext: the
 * member's fields followed by `"isPromote":<bool>`, never omitted).
 */
export function encodeAddContext(m: Member): Uint8Array {
  return new Uint8Array(Buffer.from('{' + memberFields(m) + ',"isPromote":false}', 'utf8'));
}

/** etcd's promote context: only the ID (peer URLs null, not a learner) and `"isPromote":true`. */
export function encodePromoteContext(id: bigint): Uint8Array {
  const m = makeMember({ id });
  return new Uint8Array(Buffer.from('{' + memberFields(m, true) + ',"isPromote":true}', 'utf8'));
}

/** The context of an updateNode: the member's ID and its new peer URLs (etcd's Member JSON). */
export function encodeUpdateContext(id: bigint, peerUrls: readonly string[]): Uint8Array {
  return encodeMember(makeMember({ id, peerUrls }));
}

/**
 * Reads an add/update/promote context. The bootstrap entries of a new cluster carry plain member JSON
 * (no `isPromote`), which reads as a non-promote add.
 */
export function decodeConfChangeContext(data: Uint8Array): ConfChangeContext {
  const obj = parse(data);
  const member = memberFromObject(obj);
  return { member, isPromote: isJsonObject(obj) ? boolField(obj, 'isPromote') : false };
}

// ---- GET /members on the peer port ------------------------------------------------------------------

/**
 * The body etcd's peer handler serves at `GET /members` (members sorted by ID, Go's json.Encoder adds
 * a newline). It also sets `X-Etcd-Cluster-ID: <hex cluster ID>` and `Content-Type: application/json`.
 */
export function encodeMembersResponse(members: Iterable<Member>): string {
  return '[' + sortMembers(members).map(encodeMemberJson).join(',') + ']\n';
}

/** Parses a peer's `GET /members` body (used to join with --initial-cluster-state existing). */
export function decodeMembersResponse(body: string | Uint8Array): Member[] {
  const v = parse(body);
  if (v === null) return [];
  if (!Array.isArray(v)) throw new MemberJsonError('members response: not a JSON array');
  return v.map(memberFromObject);
}

/** Whether two lists hold the same URL strings in any order (duplicates counted). */
export function sameUrls(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const x = [...a].sort(compareStrings);
  const y = [...b].sort(compareStrings);
  return x.every((u, i) => u === y[i]);
}
