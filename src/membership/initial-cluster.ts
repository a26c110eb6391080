// --initial-cluster: parsing and the bootstrap checks etcd 3.4 makes before creating a member, with the
// texts it prints (observed with etcd 3.4.23; see test/unit/membership/initial-cluster.test.ts). etcd
// walks Go maps here, so where several problems exist the one it reports varies; we report the first in
// the order the flag lists them.

import { computeClusterId, computeMemberId, formatId } from './ids.js';
import { encodeMember, makeMember, sortMembers, type Member } from './member.js';
import {
  UrlError,
  compareStrings,
  goQuote,
  goQuoteList,
  normalizeUrls,
  sortStrings,
  splitHostPort,
} from './urls.js';

export class InitialClusterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InitialClusterError';
  }
}

/** One name of --initial-cluster with all its URLs (a name may be listed several times). */
export interface InitialClusterEntry {
  readonly name: string;
  /** Normalised and sorted; duplicates kept. */
  readonly peerUrls: readonly string[];
}

/**
 * Splits "name=url,name=url,..." as etcd does: empty items are skipped, a name repeated adds URLs, an
 * item without `=` is a name with an empty (hence invalid) URL. Names keep first-appearance order.
 */
export function parseInitialCluster(value: string): InitialClusterEntry[] {
  const raw = new Map<string, string[]>();
  for (const item of value.split(',')) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    const url = eq < 0 ? '' : item.slice(eq + 1);
    const urls = raw.get(name);
    if (urls === undefined) raw.set(name, [url]);
    else urls.push(url);
  }
  const entries: InitialClusterEntry[] = [];
  for (const [name, urls] of raw) {
    try {
      entries.push({ name, peerUrls: normalizeUrls(urls) });
    } catch (e) {
      if (e instanceof UrlError)
        throw new InitialClusterError(`error setting up initial cluster: ${e.message}`);
      throw e;
    }
  }
  return entries;
}

/** etcd's URLsMap.String(): every `name=url` pair, sorted, joined by commas. */
export function formatInitialCluster(entries: readonly InitialClusterEntry[]): string {
  const pairs: string[] = [];
  for (const e of entries) for (const u of e.peerUrls) pairs.push(`${e.name}=${u}`);
  return sortStrings(pairs).join(',');
}

export interface BootstrapOptions {
  /** --name */
  readonly name: string;
  /** --initial-cluster, as given. */
  readonly initialCluster: string;
  /** --initial-cluster-token */
  readonly token: string;
  /** --initial-advertise-peer-urls (raw or normalised strings). */
  readonly advertisePeerUrls: readonly string[];
  /**
   * Host name to IP, applied as etcd resolves both lists before comparing them (IP literals,
   * `localhost` and unix sockets are never resolved). Absent: host names compare as written.
   */
  readonly resolve?: (hostname: string) => string | undefined;
}

export interface BootstrapCluster {
  readonly clusterId: bigint;
  readonly localId: bigint;
  /** Sorted by ID; names are set (etcd's initial members carry their --initial-cluster name). */
  readonly members: readonly Member[];
}

function localEntry(entries: readonly InitialClusterEntry[], name: string): InitialClusterEntry {
  const local = entries.find((e) => e.name === name);
  if (local === undefined) {
    throw new InitialClusterError(
      `couldn't find local name ${goQuote(name)} in the initial cluster configuration`,
    );
  }
  return local;
}

function resolveUrl(url: string, resolve: BootstrapOptions['resolve']): string {
  if (resolve === undefined || url.startsWith('unix')) return url;
  const m = /^([a-z]+:\/\/(?:[^@]*@)?)([^?#]*)(.*)$/.exec(url);
  if (m === null) return url;
  const hp = splitHostPort(m[2]);
  if (hp === undefined || hp.host === 'localhost' || isIpLiteral(hp.host)) return url;
  const ip = resolve(hp.host);
  if (ip === undefined) return url;
  return m[1] + (ip.includes(':') ? `[${ip}]` : ip) + ':' + hp.port + m[3];
}

function isIpLiteral(host: string): boolean {
  return /^(\d{1,3}\.){3}\d{1,3}$/.test(host) || host.includes(':');
}

/** etcd's URL list comparison: equal length, then equal after resolving and sorting. */
function urlListsDiffer(
  a: readonly string[],
  b: readonly string[],
  resolve: BootstrapOptions['resolve'],
): string | undefined {
  if (a.length !== b.length) return `len(${goQuoteList(a)}) != len(${goQuoteList(b)})`;
  const ra = a.map((u) => resolveUrl(u, resolve)).sort(compareStrings);
  const rb = b.map((u) => resolveUrl(u, resolve)).sort(compareStrings);
  for (let i = 0; i < ra.length; i++) {
    if (ra[i] !== rb[i]) return `resolved urls: ${goQuote(ra[i])} != ${goQuote(rb[i])}`;
  }
  return undefined;
}

/** --initial-advertise-peer-urls must list exactly this member's URLs of --initial-cluster. */
function checkAdvertiseMatches(
  name: string,
  clusterUrls: readonly string[],
  advertise: readonly string[],
  resolve: BootstrapOptions['resolve'],
): void {
  const differ = urlListsDiffer(advertise, clusterUrls, resolve);
  if (differ === undefined) return;
  const advertised = new Set(advertise);
  const inCluster = new Set(clusterUrls);
  const notAdvertised = [...inCluster].filter((u) => !advertised.has(u));
  if (notAdvertised.length > 0) {
    throw new InitialClusterError(
      `--initial-cluster has ${notAdvertised.map((u) => `${name}=${u}`).join(',')} but missing from ` +
        `--initial-advertise-peer-urls=${advertise.join(',')} (${differ})`,
    );
  }
  // etcd prints this member's *advertised* URLs as the --initial-cluster it compared against.
  const asCluster = formatInitialCluster([{ name, peerUrls: advertise }]);
  const notInCluster = [...advertised].filter((u) => !inCluster.has(u));
  if (notInCluster.length > 0) {
    throw new InitialClusterError(
      `--initial-advertise-peer-urls has ${notInCluster.join(',')} but missing from --initial-cluster=${asCluster}`,
    );
  }
  throw new InitialClusterError(
    `failed to resolve ${advertise.join(',')} to match --initial-cluster=${asCluster} (${differ})`,
  );
}

function checkNoDuplicateUrl(entries: readonly InitialClusterEntry[]): void {
  const seen = new Set<string>();
  for (const e of entries) {
    for (const u of e.peerUrls) {
      if (seen.has(u))
        throw new InitialClusterError(`initial cluster ${formatInitialCluster(entries)} has duplicate url`);
      seen.add(u);
    }
  }
}

/** The checks etcd makes for both --initial-cluster-state new and existing; returns the parsed entries. */
function verify(options: BootstrapOptions): InitialClusterEntry[] {
  const entries = parseInitialCluster(options.initialCluster);
  let advertise: string[];
  try {
    advertise = normalizeUrls(options.advertisePeerUrls);
  } catch (e) {
    if (e instanceof UrlError) throw new InitialClusterError(e.message);
    throw e;
  }
  const local = localEntry(entries, options.name);
  checkAdvertiseMatches(options.name, local.peerUrls, advertise, options.resolve);
  checkNoDuplicateUrl(entries);
  return entries;
}

/** Go's %v of an etcd *Member, as etcd prints it in bootstrap errors. */
function goMemberString(m: Member): string {
  return (
    `&{ID:${formatId(m.id)} RaftAttributes:{PeerURLs:[${m.peerUrls.join(' ')}] IsLearner:${m.isLearner}} ` +
    `Attributes:{Name:${m.name} ClientURLs:[${m.clientUrls.join(' ')}]}}`
  );
}

/** etcd's NewClusterFromURLsMap: one voting member per name, IDs from URLs and token. */
export function membersFromEntries(entries: readonly InitialClusterEntry[], token: string): Member[] {
  const byId = new Map<bigint, Member>();
  for (const e of entries) {
    const m = makeMember({ id: computeMemberId(e.peerUrls, token), name: e.name, peerUrls: e.peerUrls });
    if (byId.has(m.id)) throw new InitialClusterError(`member exists with identical ID ${goMemberString(m)}`);
    if (m.id === 0n) throw new InitialClusterError('cannot use 0 as member id');
    byId.set(m.id, m);
  }
  return sortMembers(byId.values());
}

/** Bootstrap of a new cluster (--initial-cluster-state new): etcd's VerifyBootstrap, then the IDs. */
export function bootstrapNewCluster(options: BootstrapOptions): BootstrapCluster {
  const entries = verify(options);
  if (formatInitialCluster(entries) === '') {
    throw new InitialClusterError('initial cluster unset and no discovery URL found');
  }
  const members = membersFromEntries(entries, options.token);
  const local = members.find((m) => m.name === options.name);
  if (local === undefined) throw new InitialClusterError('local member missing after bootstrap');
  return { clusterId: computeClusterId(members.map((m) => m.id)), localId: local.id, members };
}

/** What a member joining with --initial-cluster-state existing learns from a peer's `GET /members`. */
export interface ExistingCluster {
  readonly clusterId: bigint;
  readonly members: readonly Member[];
}

/**
 * The peer URLs a joining member asks for the existing cluster: every URL of the other members of
 * --initial-cluster, sorted (etcd's getRemotePeerURLs).
 */
export function remotePeerUrls(options: BootstrapOptions): string[] {
  const entries = verify(options);
  return sortStrings(entries.filter((e) => e.name !== options.name).flatMap((e) => e.peerUrls));
}

/**
 * Joining an existing cluster: --initial-cluster must describe the live cluster's members by their
 * peer URLs; each member then takes its ID from the live cluster (etcd's ValidateClusterAndAssignIDs).
 */
export function joinExistingCluster(options: BootstrapOptions, existing: ExistingCluster): BootstrapCluster {
  const entries = verify(options);
  const local = membersFromEntries(entries, options.token);
  const live = sortMembers(existing.members);
  const fail = (why: string): never => {
    throw new InitialClusterError(`error validating peerURLs ${formatExisting(existing)}: ${why}`);
  };
  if (live.length !== local.length) fail('member count is unequal');
  const assigned = new Map<bigint, Member>();
  for (const em of live) {
    let last: string | undefined;
    let matched = false;
    for (const [j, lm] of local.entries()) {
      last = urlListsDiffer(em.peerUrls, lm.peerUrls, options.resolve);
      if (last === undefined) {
        local[j] = { ...lm, id: em.id };
        matched = true;
        break;
      }
    }
    if (!matched) {
      fail(
        `PeerURLs: no match found for existing member (${formatId(em.id)}, [${em.peerUrls.join(' ')}]), ` +
          `last resolver error (${last ?? '<nil>'})`,
      );
    }
  }
  for (const m of local) assigned.set(m.id, m);
  const members = sortMembers(assigned.values());
  const self = members.find((m) => m.name === options.name);
  if (self === undefined) throw new InitialClusterError('local member missing after join');
  return { clusterId: existing.clusterId, localId: self.id, members };
}

function formatExisting(c: ExistingCluster): string {
  const members = sortMembers(c.members).map(goMemberString).join(' ');
  return `{ClusterID:${formatId(c.clusterId)} Members:[${members}] RemovedMemberIDs:[]}`;
}

/**
 * The raft bootstrap peers of a new cluster: each member's ID with its JSON as the context of its
 * addNode entry (etcd 3.4 writes plain member JSON there, without `isPromote`).
 */
export function bootstrapPeers(
  members: readonly Member[],
): { readonly id: bigint; readonly context: Uint8Array }[] {
  return sortMembers(members).map((m) => ({ id: m.id, context: encodeMember(m) }));
}
