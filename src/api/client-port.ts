// The client port: one listener per --listen-client-urls entry serving gRPC and HTTP/1.1 on the same
// socket, as etcd's cmux does. Each connection's first bytes decide: the HTTP/2 client preface goes
// to the gRPC server (grpc-server.ts), anything else to the HTTP/1.1 server
// (/health, /version, /metrics, the JSON gateway). Our HTTP/2 (h2-connection.ts) also takes the
// `:authority` with a scheme that etcdctl's `endpoint status` and friends send, which Node's HTTP/2
// refused.

import {
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';

import type { ServerApi } from '../server/api.js';
import { createGrpcServer, maxReceiveBytes } from './grpc-server.js';
import { H2_PREFACE } from './h2-connection.js';
import { LeaderMonitor } from './leader-monitor.js';
import { createHttpServer } from './http-server.js';
import type { ClientPortLogger } from './logger.js';
import {
  chooseAlpn,
  clientCertRefusal,
  handshakeRefusal,
  INSECURE,
  schemesFor,
  tlsContextOptions,
  type ClientPortSecurity,
} from './security.js';

export interface ClientPortOptions {
  readonly api: ServerApi;
  /** --listen-client-urls, e.g. ['http://127.0.0.1:2379']. Port 0 picks a free port. */
  readonly listenUrls: readonly string[];
  /** --max-request-bytes (etcd default 1572864). */
  readonly maxRequestBytes: number;
  readonly logger: ClientPortLogger;
  readonly security?: ClientPortSecurity;
  /** Server keepalive (--grpc-keepalive-interval / --grpc-keepalive-timeout). */
  readonly keepaliveTimeMs?: number;
  readonly keepaliveTimeoutMs?: number;
  /** How long a connection may take to send its first bytes (default 10 s). */
  readonly firstBytesTimeoutMs?: number;
  /**
   * --election-timeout (default 1000 ms): how often the port checks for a leader; `hasleader`
   * streams are cancelled after MAX_NO_LEADER_CHECKS checks in a row without one.
   */
  readonly electionTimeoutMs?: number;
}

export interface ClientPortAddress {
  /** The listen URL as given. */
  readonly url: string;
  readonly host: string;
  /** The bound port (the real one when the URL said 0). */
  readonly port: number;
}

export interface ClientPort {
  readonly addresses: readonly ClientPortAddress[];
  /** Stops listening and ends every connection and stream; idempotent. */
  close(): Promise<void>;
}

export async function startClientPort(options: ClientPortOptions): Promise<ClientPort> {
  const security = options.security ?? INSECURE;
  const targets = options.listenUrls.map((u) => parseListenUrl(u, schemesFor(security)));
  const { api, logger } = options;

  const leaderMonitor = new LeaderMonitor(() => api.hasLeader(), options.electionTimeoutMs ?? 1000);
  const grpc = createGrpcServer(api, {
    maxRequestBytes: options.maxRequestBytes,
    keepaliveTimeMs: options.keepaliveTimeMs,
    keepaliveTimeoutMs: options.keepaliveTimeoutMs,
    logger,
    leaderMonitor,
  });
  const http = createHttpServer(api, { maxReceiveBytes: maxReceiveBytes(options.maxRequestBytes), logger });
  const sockets = new Set<Socket>();
  const firstBytesTimeoutMs = options.firstBytesTimeoutMs ?? 10_000;

  const route = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {
      // A reset from the client; whoever owns the socket by now sees it too.
    });
    sniff(socket, firstBytesTimeoutMs, (isH2, seen) => {
      if (isH2) {
        grpc.serve(socket, seen);
      } else {
        socket.unshift(seen);
        http.emit('connection', socket);
        // The sniffer paused the socket; the HTTP server only listens for data and would wait forever.
        socket.resume();
      }
    });
  };

  const listeners: NetServer[] = [];
  const tlsListeners: TlsServer[] = [];
  const addresses: ClientPortAddress[] = [];
  // Rotated certificate files: every TLS listener swaps its context, so new handshakes use the new
  // key pair (and CA); connections already open keep the session they negotiated, as with etcd.
  const unsubscribe =
    security.kind === 'tls' && security.reload !== undefined
      ? security.reload.subscribe((material) => {
          for (const s of tlsListeners) {
            try {
              s.setSecureContext(tlsContextOptions(material, security.ciphers));
            } catch (e) {
              logger.warn('client port: cannot use the reloaded certificate; keeping the previous one', {
                error: e instanceof Error ? e.message : String(e),
              });
            }
          }
        })
      : () => {};
  try {
    for (const t of targets) {
      let server: NetServer;
      if (t.secure) {
        if (security.kind !== 'tls')
          throw new Error(`client port: ${t.url} is https but no TLS key/cert was given`);
        const clientCertAuth = security.clientCertAuth;
        const allowedHostname = clientCertAuth ? security.allowedHostname : undefined;
        const tlsServer = createTlsServer(
          {
            ...tlsContextOptions(security.reload?.current() ?? security, security.ciphers),
            requestCert: clientCertAuth,
            rejectUnauthorized: clientCertAuth,
            handshakeTimeout: firstBytesTimeoutMs,
            ALPNCallback: ({ protocols }) => chooseAlpn(protocols),
          },
          (socket: TLSSocket) => {
            // The chain (CA, CRL) is verified by now; the allowed hostname is ours to check, before
            // any request is read.
            const refusal =
              allowedHostname === undefined
                ? undefined
                : clientCertRefusal(socket.getPeerCertificate(), allowedHostname);
            if (refusal !== undefined) {
              logger.warn('client port: rejected connection', { remote: remoteOf(socket), error: refusal });
              socket.destroy();
              return;
            }
            route(socket);
          },
        );
        tlsServer.on('connection', (raw: Socket) => {
          raw.setNoDelay(true);
          sockets.add(raw);
          raw.once('close', () => sockets.delete(raw));
          raw.on('error', () => {});
        });
        tlsServer.on('tlsClientError', (e: Error, socket: TLSSocket) => {
          logger.warn('client port: rejected connection', {
            remote: remoteOf(socket),
            error: handshakeRefusal(e, socket),
          });
        });
        tlsListeners.push(tlsServer);
        server = tlsServer;
      } else {
        server = createNetServer({ noDelay: true }, route);
      }
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(t.port, t.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      listeners.push(server);
      const a = server.address() as AddressInfo;
      addresses.push({ url: t.url, host: t.host, port: a.port });
      if (t.secure) logger.info('serving client traffic securely', { address: `${t.host}:${a.port}` });
      else logger.info('serving client traffic insecurely', { address: `${t.host}:${a.port}` });
    }
  } catch (e) {
    unsubscribe();
    for (const s of listeners) s.close();
    leaderMonitor.close();
    grpc.close();
    throw e;
  }

  let closing: Promise<void> | undefined;
  return {
    addresses,
    close: () =>
      (closing ??= (async () => {
        const closed = listeners.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
        unsubscribe();
        leaderMonitor.close();
        grpc.close();
        http.closeAllConnections();
        for (const s of sockets) s.destroy();
        await Promise.all(closed);
      })()),
  };
}

function remoteOf(socket: TLSSocket): string {
  return `${socket.remoteAddress ?? ''}:${socket.remotePort ?? ''}`;
}

/**
 * Waits for enough of the connection's first bytes to tell HTTP/2 from HTTP/1 (as soon as they stop
 * matching the preface, or once the whole preface is there), then pauses the socket and hands over
 * the bytes read so far.
 */
function sniff(socket: Socket, timeoutMs: number, decide: (isH2: boolean, seen: Buffer) => void): void {
  let seen: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  const onData = (chunk: Buffer): void => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, H2_PREFACE.length);
    const matches = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    if (matches && n < H2_PREFACE.length) return;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.pause();
    decide(matches, seen);
  };
  const onEnd = (): void => {
    clearTimeout(timer);
    socket.destroy();
  };
  socket.on('data', onData);
  socket.once('end', onEnd);
}

interface ListenTarget {
  readonly url: string;
  readonly secure: boolean;
  readonly host: string;
  readonly port: number;
}

function parseListenUrl(url: string, schemes: readonly string[]): ListenTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`client port: invalid listen URL ${JSON.stringify(url)}`);
  }
  if (!schemes.includes(u.protocol)) {
    throw new Error(
      `client port: listen URL ${url}: scheme ${u.protocol} is not served (only ${schemes.join(', ')})`,
    );
  }
  if (u.port === '') throw new Error(`client port: listen URL ${url} has no port`);
  // URL keeps the brackets of an IPv6 literal; listen() wants the bare address.
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return { url, host, port: Number(u.port), secure: u.protocol === 'https:' };
}
