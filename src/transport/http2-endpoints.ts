// The only place where peer-port servers and client connections are created. Cleartext (h2c and
// HTTP/1.1), or TLS when PeerTlsOptions are given (https:// peer URLs), without touching the rest of
// the transport.
//
// The cleartext listener sniffs the first bytes of each connection: the HTTP/2 connection preface goes
// to the HTTP/2 server, anything else to a small HTTP/1.1 server, so `curl http://host:2380/members`
// works without --http2-prior-knowledge, as it does against etcd. Snapshots and calls between members
// use HTTP/2; raft message streams are HTTP/1.1 requests upgraded to a plain byte stream.

import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { certIdentityError, hasIdentityPolicy } from './cert-identity.js';
import {
  currentPeerTls,
  peerClientOptions,
  peerContextOptions,
  type PeerTlsMaterial,
  type PeerTlsOptions,
} from './types.js';

/** Receiver windows: large enough that a busy stream is not throttled by flow control on a LAN. */
const STREAM_WINDOW_BYTES = 8 * 1024 * 1024;
const SESSION_WINDOW_BYTES = 32 * 1024 * 1024;
/** Larger DATA frames mean fewer chunks (and callbacks) per megabyte on the receiving side. */
const MAX_FRAME_SIZE = 256 * 1024;
/** nghttp2 refuses new streams beyond this much buffered session memory (MB); default 10 is tight. */
const MAX_SESSION_MEMORY_MB = 64;
/** A connection that has not sent a byte this long after accepting is dropped (cleartext sniffing). */
const SNIFF_TIMEOUT_MS = 10_000;

const SERVER_SETTINGS: http2.Settings = {
  initialWindowSize: STREAM_WINDOW_BYTES,
  maxFrameSize: MAX_FRAME_SIZE,
  maxConcurrentStreams: 128,
};

export interface PeerListenerHandlers {
  /** An HTTP/2 request (raft stream, snapshot, or a plain GET). */
  onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void;
  /** An HTTP/1.1 request on the cleartext port (only GETs are useful there). */
  onHttp1(req: http.IncomingMessage, res: http.ServerResponse): void;
  /** An HTTP/1.1 request asking to upgrade (a raft message stream); the socket is the handler's. */
  onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * A TLS handshake failed (e.g. a certificate from an unknown CA, or revoked), or the certificate
   * did not meet --peer-cert-allowed-cn / --peer-cert-allowed-hostname; for the log.
   */
  onTlsError?(error: Error, remote: string): void;
  /** Reloaded TLS material could not be installed (the previous one stays); for the log. */
  onTlsReloadError?(error: Error): void;
}

export interface PeerListener {
  /** The URL actually bound (the real port when 0 was asked for). */
  readonly url: string;
  /** Stops accepting and destroys every open connection. */
  close(): Promise<void>;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** host and port of a peer URL; IPv6 brackets removed, default ports by scheme. */
export function hostPortOf(url: URL): HostPort {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return { host, port };
}

function checkScheme(url: URL, tlsOptions: PeerTlsOptions | undefined): void {
  if (url.protocol === 'http:' && tlsOptions === undefined) return;
  if (url.protocol === 'https:' && tlsOptions !== undefined) return;
  if (url.protocol === 'https:')
    throw new Error(`peer URL ${url.href} is https but no TLS key/cert was given`);
  if (url.protocol === 'http:') throw new Error(`peer URL ${url.href} is http but TLS is configured`);
  throw new Error(`peer URL ${url.href}: unsupported scheme ${url.protocol}`);
}

/**
 * The secure-context part of the TLS listener's options. Used at creation and for every reload:
 * tls.Server#setSecureContext resets each context option it is not given (minVersion included).
 */
function serverContextOptions(options: PeerTlsOptions, material: PeerTlsMaterial): tls.SecureContextOptions {
  return { ...peerContextOptions(options, material), minVersion: 'TLSv1.2' };
}

/**
 * Why a refused handshake was refused. Node completes the handshake and then drops a client whose
 * certificate failed verification, so the error itself only says "socket hang up"; the verification
 * result (CERT_REVOKED, UNABLE_TO_GET_ISSUER_CERT_LOCALLY, ...) is on the socket.
 */
function handshakeRefusal(e: Error, socket: tls.TLSSocket): string {
  const verdict: unknown = socket.authorizationError;
  const code = typeof verdict === 'string' ? verdict : verdict instanceof Error ? verdict.message : undefined;
  const reason = (e as Error & { reason?: string }).reason ?? e.message;
  return code === undefined ? reason : `certificate verification failed: ${code}`;
}

function configureServerSession(session: http2.ServerHttp2Session): void {
  // The connection-level window is not part of SETTINGS; it is raised with a WINDOW_UPDATE.
  session.setLocalWindowSize(SESSION_WINDOW_BYTES);
}

/** Listens on `url` (host and port only). Resolves once bound. */
export async function listenPeer(
  url: URL,
  tlsOptions: PeerTlsOptions | undefined,
  handlers: PeerListenerHandlers,
): Promise<PeerListener> {
  checkScheme(url, tlsOptions);
  const { host, port } = hostPortOf(url);
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket): void => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  let server: net.Server;
  let unsubscribe = (): void => {};
  if (tlsOptions === undefined) {
    const h2 = http2.createServer({ settings: SERVER_SETTINGS, maxSessionMemory: MAX_SESSION_MEMORY_MB });
    h2.on('session', configureServerSession);
    h2.on('stream', handlers.onStream);
    const h1 = http.createServer(handlers.onHttp1);
    h1.on('upgrade', handlers.onUpgrade);
    server = net.createServer((socket) => {
      track(socket);
      sniff(socket, h2, h1);
    });
  } else {
    // TLS: ALPN decides. `h2` (members) goes to the HTTP/2 server, anything else (curl, the
    // /members and /members/hashkv requests made over HTTPS) to the HTTP/1.1 server.
    const h2 = http2.createServer({ settings: SERVER_SETTINGS, maxSessionMemory: MAX_SESSION_MEMORY_MB });
    h2.on('session', configureServerSession);
    h2.on('stream', handlers.onStream);
    const h1 = http.createServer(handlers.onHttp1);
    h1.on('upgrade', handlers.onUpgrade);
    const verifyClients = tlsOptions.clientCertAuth === true;
    const policy = { allowedCn: tlsOptions.allowedCn, allowedHostname: tlsOptions.allowedHostname };
    const checkIdentity = verifyClients && hasIdentityPolicy(policy);
    const remoteOf = (socket: tls.TLSSocket): string =>
      `${socket.remoteAddress ?? ''}:${socket.remotePort ?? ''}`;
    const secure = tls.createServer(
      {
        ...serverContextOptions(tlsOptions, currentPeerTls(tlsOptions)),
        requestCert: verifyClients,
        rejectUnauthorized: verifyClients,
        ALPNProtocols: ['h2', 'http/1.1'],
        handshakeTimeout: SNIFF_TIMEOUT_MS,
      },
      (socket) => {
        socket.on('error', () => {});
        // The chain is verified by now (CA, CRL); the allowed CN / hostname is ours to check. The
        // connection is dropped before any request is read, as etcd refuses it in the handshake.
        if (checkIdentity) {
          const reason = certIdentityError(socket.getPeerCertificate(), policy);
          if (reason !== undefined) {
            handlers.onTlsError?.(
              new Error(`client certificate authentication failed: ${reason}`),
              remoteOf(socket),
            );
            socket.destroy();
            return;
          }
        }
        if (socket.alpnProtocol === 'h2') h2.emit('connection', socket);
        else h1.emit('connection', socket);
      },
    );
    secure.on('connection', track);
    secure.on('tlsClientError', (e: Error, socket: tls.TLSSocket) => {
      handlers.onTlsError?.(new Error(handshakeRefusal(e, socket)), remoteOf(socket));
    });
    // Rotated certificate files: new handshakes use the new material, open connections keep theirs.
    unsubscribe =
      tlsOptions.reload?.subscribe((material) => {
        try {
          secure.setSecureContext(serverContextOptions(tlsOptions, material));
        } catch (e) {
          handlers.onTlsReloadError?.(e instanceof Error ? e : new Error(String(e)));
        }
      }) ?? unsubscribe;
    server = secure;
  }
  server.on('error', () => {}); // listen errors reject below; later ones (EMFILE) are per connection

  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
  } catch (e) {
    unsubscribe();
    throw e;
  }
  const address = server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  const bound = new URL(url.href);
  bound.port = String(boundPort);

  return {
    url: bound.origin,
    close: () =>
      new Promise<void>((resolve) => {
        unsubscribe();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        sockets.clear();
      }),
  };
}

/** Routes a cleartext connection by its first bytes: "PRI" (the HTTP/2 preface) or HTTP/1.1. */
function sniff(socket: net.Socket, h2: http2.Http2Server, h1: http.Server): void {
  socket.setTimeout(SNIFF_TIMEOUT_MS, () => socket.destroy());
  socket.on('error', () => {}); // the owning server takes over error handling after routing
  let seen = Buffer.alloc(0);
  const onReadable = (): void => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) seen = Buffer.concat([seen, chunk]);
    if (seen.byteLength < 3) return;
    socket.off('readable', onReadable);
    socket.setTimeout(0);
    // Give the bytes back: the HTTP/2 session reads a socket's buffered data before its native handle.
    socket.unshift(seen);
    if (seen[0] === 0x50 && seen[1] === 0x52 && seen[2] === 0x49) h2.emit('connection', socket);
    else h1.emit('connection', socket);
  };
  socket.on('readable', onReadable);
}

/** A new connection to a peer URL, speaking `alpn` when it is TLS. */
function peerSocket(url: URL, tlsOptions: PeerTlsOptions | undefined, alpn: string): net.Socket {
  checkScheme(url, tlsOptions);
  const { host, port } = hostPortOf(url);
  if (tlsOptions === undefined) return net.connect({ host, port, noDelay: true });
  const socket = tls.connect({
    host,
    port,
    servername: net.isIP(host) === 0 ? host : undefined,
    ALPNProtocols: [alpn],
    // Read per connection: after a certificate rotation, the next connection presents the new one.
    ...peerClientOptions(tlsOptions),
  });
  socket.setNoDelay(true);
  return socket;
}

/** Opens an HTTP/2 client session to a peer URL. Errors arrive as the session's 'error' event. */
export function connectPeer(url: URL, tlsOptions: PeerTlsOptions | undefined): http2.ClientHttp2Session {
  checkScheme(url, tlsOptions);
  const createConnection = (): net.Socket => peerSocket(url, tlsOptions, 'h2');
  return http2.connect(url.origin, {
    createConnection,
    maxSessionMemory: MAX_SESSION_MEMORY_MB,
    settings: { enablePush: false },
  });
}

/**
 * Asks a peer URL to upgrade `POST path` to a plain byte stream (the `Upgrade: token` request). The
 * answer arrives as the request's 'upgrade' event (101, with the socket) or 'response' (a refusal);
 * a failed connection as 'error'.
 */
export function requestUpgrade(
  url: URL,
  tlsOptions: PeerTlsOptions | undefined,
  path: string,
  token: string,
  headers: Readonly<Record<string, string>>,
): http.ClientRequest {
  const socket = peerSocket(url, tlsOptions, 'http/1.1');
  const req = http.request({
    method: 'POST',
    host: url.hostname,
    port: url.port,
    path,
    headers: { ...headers, connection: 'Upgrade', upgrade: token },
    // With createConnection and no agent, the request uses that socket alone: no pooling.
    createConnection: () => socket,
  });
  req.end();
  return req;
}
