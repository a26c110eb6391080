// Joining an existing cluster (--initial-cluster-state existing): ask the other members' peer URLs
// for the member list and the cluster ID, as etcd's GetClusterFromRemotePeers does.

import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import type tls from 'node:tls';

import type { PeerTlsOptions } from '../../transport/index.js';

import { decodeMembersResponse, parseId, type ExistingCluster } from '../../membership/index.js';

const ATTEMPT_TIMEOUT_MS = 2000;

function fetchMembers(url: string, tlsOptions: PeerTlsOptions | undefined): Promise<ExistingCluster> {
  return new Promise((resolve, reject) => {
    const target = new URL('/members', url);
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
          const header = res.headers['x-etcd-cluster-id'];
          if (typeof header !== 'string') throw new Error('no X-Etcd-Cluster-ID header');
          resolve({ clusterId: parseId(header), members: decodeMembersResponse(Buffer.concat(chunks)) });
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
      res.on('error', reject);
    };
    const req =
      target.protocol === 'https:'
        ? httpsGet(
            target,
            {
              timeout: ATTEMPT_TIMEOUT_MS,
              key: tlsOptions?.key,
              cert: tlsOptions?.cert,
              ca: tlsOptions?.ca as tls.SecureContextOptions['ca'],
              rejectUnauthorized: tlsOptions?.insecureSkipVerify !== true,
            },
            onResponse,
          )
        : httpGet(target, { timeout: ATTEMPT_TIMEOUT_MS }, onResponse);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export async function fetchExistingCluster(
  peerUrls: readonly string[],
  logger: { warn(message: string): void },
  tlsOptions?: PeerTlsOptions,
): Promise<ExistingCluster> {
  for (const url of peerUrls) {
    try {
      return await fetchMembers(url, tlsOptions);
    } catch (e) {
      logger.warn(
        `could not get cluster response from ${url}: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }
  throw new Error(
    'cannot fetch cluster info from peer urls: could not retrieve cluster information from the given URLs',
  );
}
