// The --initial-cluster checks etcd makes when a member bootstraps (no WAL yet). etcd makes them
// after creating the data dir, leaving a half-made member directory behind on failure; the server
// calls these first instead. They do not belong in parseServerConfig because a restarted member
// ignores --initial-cluster entirely, as etcd does.

import type { ServerConfig } from './types.js';
import { parseUrlList } from './urls.js';

export interface InitialMember {
  readonly name: string;
  readonly peerUrls: readonly string[]; // sorted, as etcd sorts them before hashing member IDs
}

export type InitialClusterResult =
  | { readonly ok: true; readonly members: readonly InitialMember[] }
  | { readonly ok: false; readonly error: string };

/** name=url[,name=url...]; repeated names collect several URLs; entries keep first-seen order. */
export function parseInitialCluster(text: string): InitialClusterResult {
  const byName = new Map<string, string[]>();
  for (const entry of text.split(',')) {
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    const name = eq < 0 ? entry : entry.slice(0, eq);
    const url = eq < 0 ? '' : entry.slice(eq + 1);
    const urls = byName.get(name) ?? [];
    urls.push(url);
    byName.set(name, urls);
  }
  const members: InitialMember[] = [];
  for (const [name, urls] of byName) {
    const parsed = parseUrlList(urls.join(','));
    if (!parsed.ok) return { ok: false, error: `error setting up initial cluster: ${parsed.error}` };
    members.push({ name, peerUrls: parsed.urls });
  }
  return { ok: true, members };
}

function clusterString(members: readonly InitialMember[]): string {
  return members
    .flatMap((m) => m.peerUrls.map((u) => `${m.name}=${u}`))
    .sort()
    .join(',');
}

/**
 * etcd's VerifyBootstrap (state new) / VerifyJoinExisting (state existing), with its texts.
 * Returns undefined when the member may bootstrap. URLs are compared literally: etcd would also
 * resolve host names before declaring a mismatch.
 */
export function verifyBootstrap(config: ServerConfig): string | undefined {
  const parsed = parseInitialCluster(config.initialCluster);
  if (!parsed.ok) return parsed.error;
  const members = parsed.members;
  const self = members.find((m) => m.name === config.name);
  if (self === undefined)
    return `couldn't find local name ${JSON.stringify(config.name)} in the initial cluster configuration`;
  if (config.initialClusterState === 'new') {
    const mine = [...config.initialAdvertisePeerUrls].sort();
    if (mine.join(',') !== self.peerUrls.join(','))
      return (
        `--initial-cluster has ${self.peerUrls.map((u) => `${config.name}=${u}`).join(',')} but missing from ` +
        `--initial-advertise-peer-urls=${mine.join(',')} ` +
        `(resolved urls: ${JSON.stringify(mine.join(','))} != ${JSON.stringify(self.peerUrls.join(','))})`
      );
  }
  const seen = new Set<string>();
  for (const url of members.flatMap((m) => m.peerUrls)) {
    if (seen.has(url)) return `initial cluster ${clusterString(members)} has duplicate url`;
    seen.add(url);
  }
  if (config.initialClusterState === 'new' && clusterString(members) === '')
    return 'initial cluster unset and no discovery URL found';
  return undefined;
}
