// `cairn`: one member of a cluster, started with etcd's flags. It checks its configuration before it
// touches the data dir, opens (or creates) the data dir, joins its peers over the peer port, serves
// the client port, and stops cleanly on SIGINT/SIGTERM or when removed from the cluster.

import { X509Certificate, randomInt } from 'node:crypto';

import { pino, type Logger as Pino } from 'pino';

import { startClientPort, type ClientPort } from '../../api/index.js';
import { parseServerConfig, type ServerConfig } from '../../config/index.js';
import {
  InitialClusterError,
  bootstrapNewCluster,
  bootstrapPeers,
  encodeMembersResponse,
  joinExistingCluster,
  remotePeerUrls,
  type BootstrapCluster,
} from '../../membership/index.js';
import type { BootstrapPeer } from '../../raft/types.js';
import { createTokenProvider, TokenOptionError, type TokenProvider } from '../../auth/index.js';
import { dataDirLayout, hasMemberData, openMember } from '../../server/bootstrap.js';
import type { Logger, Member } from '../../server/member.js';
import { CLUSTER_VERSION, SERVER_VERSION } from '../../server/member.js';
import { initialCorruptCheck } from '../../server/corrupt-check.js';
import { ServerMetrics } from '../../server/metrics.js';
import { PeerServer, Transport, fetchPeerHashKV } from '../../transport/index.js';
import { fetchExistingCluster } from './join.js';
import { writeAutoCert } from './self-signed-cert.js';
import {
  TlsSetupError,
  cipherSuitesOption,
  clientPortSecurity,
  peerTlsOptions,
  type AutoTlsContext,
  type TlsWatchContext,
} from './tls.js';

function fail(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function makeLogger(config: ServerConfig): Pino {
  const level = config.logLevel === 'panic' ? 'fatal' : config.logLevel;
  return pino({ level, base: { name: config.name } }, pino.destination({ fd: 2, sync: false }));
}

type Fields = Readonly<Record<string, unknown>>;

/** One logger for every layer: the member's (message only) and the ports' (message and fields). */
interface SharedLogger extends Logger {
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
}

function adapt(log: Pino): SharedLogger {
  return {
    info: (message: string, fields?: Fields) =>
      fields === undefined ? log.info(message) : log.info(fields, message),
    warn: (message: string, fields?: Fields) =>
      fields === undefined ? log.warn(message) : log.warn(fields, message),
    error: (message: string, fields?: Fields) =>
      fields === undefined ? log.error(message) : log.error(fields, message),
  };
}

async function main(): Promise<void> {
  const parsed = parseServerConfig(process.argv.slice(2), process.env);
  if (parsed.kind === 'help' || parsed.kind === 'version') {
    process.stdout.write(parsed.text.endsWith('\n') ? parsed.text : `${parsed.text}\n`);
    return;
  }
  if (parsed.kind === 'error') fail(parsed.message, parsed.exitCode);
  const config = parsed.config;
  const log = makeLogger(config);
  const logger = adapt(log);
  for (const w of parsed.warnings) logger.warn(w);

  // Key and certificate files are read and checked before the data dir is touched.
  let clientSecurity: ReturnType<typeof clientPortSecurity>;
  let peerTls: ReturnType<typeof peerTlsOptions>;
  // --auto-tls / --peer-auto-tls: certificates already in the data dir are read here; new ones are
  // made in memory and written into <data-dir>/fixtures only once every check below has passed.
  const autoTls: AutoTlsContext = { dataDir: config.dataDir, certs: [], notes: [] };
  // Certificate files given by flag are watched from here on: new connections use rotated ones.
  const tlsWatch: TlsWatchContext = { logger, reloaders: [] };
  try {
    // --cipher-suites applies to both ports; an unknown name stops the start even without TLS (etcd).
    const cipherSuites = cipherSuitesOption(config.cipherSuites);
    autoTls.notes.push(...cipherSuites.notes);
    clientSecurity = clientPortSecurity(
      config.clientTls,
      config.listenClientUrls,
      autoTls,
      tlsWatch,
      cipherSuites.ciphers,
    );
    peerTls = peerTlsOptions(
      config.peerTls,
      [...config.listenPeerUrls, ...config.initialAdvertisePeerUrls],
      autoTls,
      config.listenPeerUrls,
      tlsWatch,
      cipherSuites.ciphers,
    );
  } catch (e) {
    if (e instanceof TlsSetupError) fail(`cairn: ${e.message}`);
    throw e;
  }
  for (const note of autoTls.notes) logger.warn(note);
  // --auth-token: a JWT provider's key files are read now, so a bad one stops the start-up here.
  let tokens: TokenProvider;
  try {
    tokens = createTokenProvider({ authToken: config.authToken, ttlSeconds: config.authTokenTtlSeconds });
  } catch (e) {
    if (e instanceof TokenOptionError) fail(`cairn: ${e.message}`);
    throw e;
  }
  const fetchHashKV: typeof fetchPeerHashKV = (url, revision, timeoutMs) =>
    fetchPeerHashKV(url, revision, timeoutMs, peerTls);

  const layout = dataDirLayout(config.dataDir, config.walDir);
  let identity = { memberId: 0n, clusterId: 0n };
  let peers: readonly BootstrapPeer[] | undefined;
  let knownPeers: BootstrapCluster['members'] = [];
  const restarting = hasMemberData(layout);
  if (!restarting && config.forceNewCluster) {
    // As etcd: the flag only concerns a data dir that already holds a member.
    logger.info('--force-new-cluster ignored: the data dir holds no member yet');
  }
  if (!restarting) {
    // Every check that can refuse happens before the data dir is created.
    const options = {
      name: config.name,
      initialCluster: config.initialCluster,
      token: config.initialClusterToken,
      advertisePeerUrls: config.initialAdvertisePeerUrls,
    };
    let cluster: BootstrapCluster;
    try {
      if (config.initialClusterState === 'new') {
        cluster = bootstrapNewCluster(options);
        peers = bootstrapPeers(cluster.members);
      } else {
        const existing = await fetchExistingCluster(remotePeerUrls(options), logger, peerTls);
        cluster = joinExistingCluster(options, existing);
      }
    } catch (e) {
      if (e instanceof InitialClusterError) fail(e.message);
      throw e;
    }
    identity = { memberId: cluster.localId, clusterId: cluster.clusterId };
    knownPeers = cluster.members;
  }

  // The configuration is accepted: the self-signed certificates go into the data dir now.
  for (const auto of autoTls.certs) {
    try {
      writeAutoCert(auto);
    } catch (e) {
      fail(`cairn: cannot write the self-signed certificate: ${e instanceof Error ? e.message : String(e)}`);
    }
    const fingerprint = new X509Certificate(auto.cert).fingerprint256;
    if (auto.created)
      logger.info('created self-signed cert', { cert: auto.certFile, key: auto.keyFile, fingerprint });
    else logger.info('using self-signed cert', { cert: auto.certFile, key: auto.keyFile, fingerprint });
  }

  // What is running, for a stop at any point of the start-up.
  const running: {
    member?: Member;
    clientPort?: ClientPort;
    transport?: Transport;
    peerServer?: PeerServer;
  } = {};
  let stopping: Promise<void> | undefined;
  const stop = (code: number): Promise<void> =>
    (stopping ??= (async () => {
      for (const r of tlsWatch.reloaders) r.close();
      await running.clientPort?.close().catch(() => {});
      await running.transport?.close().catch(() => {});
      await running.peerServer?.close().catch(() => {});
      await running.member?.stop().catch(() => {});
      log.flush();
      process.exit(code);
    })());

  // The member is opened first (a restart learns its identity from the WAL); its peer messages go
  // through this forwarder to the transport created right after, before anything is sent.
  const peerPort = {
    send: (messages: Parameters<Transport['send']>[0]) => running.transport?.send(messages),
    addPeer: (id: bigint, urls: readonly string[]) => running.transport?.addPeer(id, urls),
    updatePeer: (id: bigint, urls: readonly string[]) => running.transport?.updatePeer(id, urls),
    removePeer: (id: bigint) => running.transport?.removePeer(id),
    activeSince: (id: bigint) => running.transport?.activeSince(id),
  };

  // One registry for the process: the member, its storage and the peer transport count into it.
  const metrics = new ServerMetrics({ processMetrics: true });
  const m = await openMember({
    name: config.name,
    dataDir: config.dataDir,
    walDir: config.walDir,
    identity,
    bootstrapPeers: peers,
    peers: peerPort,
    heartbeatMs: config.heartbeatIntervalMs,
    electionMs: config.electionTimeoutMs,
    preVote: config.preVote,
    snapshotCount: config.snapshotCount,
    quotaBackendBytes: config.quotaBackendBytes ?? -1,
    maxRequestBytes: config.maxRequestBytes,
    maxTxnOps: config.maxTxnOps,
    strictReconfigCheck: config.strictReconfigCheck,
    autoCompaction: config.autoCompaction,
    maxSnapshots: config.maxSnapshots,
    maxWals: config.maxWals,
    clientUrls: config.advertiseClientUrls,
    corruptCheckTimeMs: config.experimentalCorruptCheckTimeMs,
    fetchPeerHashKV: fetchHashKV,
    randomSeed: randomInt(2 ** 31),
    logger,
    onRemoved: () => void stop(0),
    onFatal: () => void stop(1),
    tokens,
    bcryptCost: config.bcryptCost,
    metrics,
    forceNewCluster:
      restarting && config.forceNewCluster
        ? { advertisePeerUrls: config.initialAdvertisePeerUrls }
        : undefined,
  });
  running.member = m;
  const transport = new Transport({
    clusterId: m.clusterId,
    memberId: m.memberId,
    advertiseUrls: config.initialAdvertisePeerUrls,
    tls: peerTls,
    logger,
    reportUnreachable: (id) => m.reportUnreachable(id),
    reportSnapshot: (id, status) => m.reportSnapshot(id, status),
    onRemoved: () => {
      logger.warn('a peer reports this member was removed from the cluster; shutting down');
      void stop(0);
    },
    openSnapshotBody: (msg) => m.snapshotBody(msg),
    onRoundTrip: metrics.peerRoundTripped,
    onSent: metrics.peerSent,
    onSendFailures: metrics.peerSendFailed,
  });
  running.transport = transport;
  for (const p of knownPeers) if (p.id !== m.memberId) transport.addPeer(p.id, p.peerUrls);
  if (m.removed) {
    logger.warn('the member has been permanently removed from the cluster; exiting');
    await stop(0);
  }

  running.peerServer = await PeerServer.start({
    clusterId: m.clusterId,
    memberId: m.memberId,
    listenUrls: config.listenPeerUrls,
    tls: peerTls,
    logger,
    isRemoved: (id) => m.state.cluster.isRemoved(id),
    isKnownPeer: (id) => m.state.cluster.member(id) !== undefined,
    onMessage: (messages) => m.receiveMessages(messages),
    onSnapshot: (message, body) => m.receiveSnapshot(message, body),
    membersJson: () => encodeMembersResponse(m.state.cluster.members()),
    versionJson: () => JSON.stringify({ etcdserver: SERVER_VERSION, etcdcluster: CLUSTER_VERSION }),
    calls: m.peerCalls(),
    hashKV: async (revision) => {
      const r = await m.hashKV({ revision: BigInt(revision) });
      const header = Number(r.header?.revision ?? 0n);
      return { revision: header, compactRevision: Number(r.compactRevision), hash: r.hash };
    },
    onReceived: metrics.peerReceived,
  });
  // etcd's initial corruption check: a restarted member compares its keyspace with its peers' before it
  // serves clients (etcd does it before serving peers too; here the peer port already answers, so
  // members restarted together can check each other).
  if (restarting && config.experimentalInitialCorruptCheck) {
    const consistent = await initialCorruptCheck(
      {
        memberId: m.memberId,
        peers: () => m.state.cluster.members(),
        fetch: fetchHashKV,
        timeoutMs: 5000 + 2 * config.electionTimeoutMs,
        logger,
      },
      m.state.store.hashByRev(0),
    );
    if (!consistent) {
      await stop(1);
      return;
    }
  }
  running.clientPort = await startClientPort({
    api: m,
    listenUrls: config.listenClientUrls,
    security: clientSecurity,
    maxRequestBytes: config.maxRequestBytes,
    electionTimeoutMs: config.electionTimeoutMs,
    logger,
  });
  m.start();
  logger.info(
    `serving client traffic on ${config.listenClientUrls.join(',')}, peers on ${config.listenPeerUrls.join(',')}`,
  );
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
}

main().catch((e: unknown) => {
  fail(`cairn: ${e instanceof Error ? e.message : String(e)}`);
});
