// The receiving side of the peer port: raft message streams, snapshot uploads, /members, /version and
// GET /members/hashkv (etcd's corruption checks, see hashkv.ts).
//
// Admission of a raft stream or snapshot, in order (the first failing check answers):
//   protocol version equal to ours                    else 412 "protocol version mismatch"
//   cluster, sender and receiver IDs present (hex)    else 400
//   cluster ID equal to ours                          else 412 "cluster ID mismatch" (logged as a warning)
//   receiver ID equal to our member ID                else 412 "receiver ID mismatch"
//   sender not removed from the cluster               else 410 "member removed": the sender stops
// A sender we do not know (yet) is admitted. A member that is behind on the log has not applied the
// change that added a newer member, and that newer member may be the leader it has to catch up from:
// refusing would leave it stuck forever. Raft itself handles messages from unknown IDs safely, and the
// cluster and receiver checks above already keep out members of other clusters. `onUnknownSender`
// tells the member about it (with the sender's advertised URLs) so it can route replies back, as
// etcd's AddRemote does.

import http from 'node:http';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import { decodeMessage } from '../raft/codec.js';
import type { Message, MsgSnap } from '../raft/types.js';
import { FrameDecoder, PING_FRAME, decodeBatch } from './framing.js';
import { PATH_HASHKV, answerHashKV, type HashKVAnswer, type HashKVProvider } from './hashkv.js';
import { listenPeer, type PeerListener } from './http2-endpoints.js';
import {
  HEADER_CLUSTER_ID,
  HEADER_FROM,
  HEADER_PEER_URLS,
  HEADER_PROTOCOL,
  HEADER_REASON,
  HEADER_TO,
  MAX_FRAME_BYTES,
  MAX_SNAPSHOT_MESSAGE_BYTES,
  PATH_MEMBERS,
  PATH_RAFT_SNAPSHOT,
  PATH_RAFT_STREAM,
  PATH_VERSION,
  PROTOCOL_VERSION,
  RAFT_STREAM_UPGRADE,
  STATUS_BAD_REQUEST,
  STATUS_GONE,
  STATUS_INTERNAL_ERROR,
  STATUS_METHOD_NOT_ALLOWED,
  STATUS_NOT_FOUND,
  STATUS_OK,
  STATUS_PRECONDITION_FAILED,
  errorText,
  idToHex,
  parseHexId,
  silentLogger,
  type PeerTlsOptions,
  type TransportLogger,
} from './types.js';

/** Largest body of a peer call (they carry single small requests). */
const MAX_CALL_BYTES = 1024 * 1024;

export interface PeerServerOptions {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  /** --listen-peer-urls: only scheme, host and port are used. Port 0 picks a free port. */
  readonly listenUrls: readonly string[];
  readonly tls?: PeerTlsOptions;
  readonly logger?: TransportLogger;
  /** True for a member removed from the cluster: its streams and snapshots are refused with 410. */
  readonly isRemoved: (id: bigint) => boolean;
  /** Whether `id` is a current member. Unknown senders are admitted anyway (see the top of this file). */
  readonly isKnownPeer?: (id: bigint) => boolean;
  /** A sender `isKnownPeer` does not know opened a stream; `peerUrls` are the URLs it advertises. */
  readonly onUnknownSender?: (id: bigint, peerUrls: readonly string[]) => void;
  /**
   * The messages of one frame, in the order sent. Must not throw (a throw is logged and ignored).
   * ZERO-COPY: byte fields (entry data, contexts) are views into the network chunk the frame arrived
   * in (at most a few hundred KiB), which stays alive as long as any of them does. That is fine for
   * entries persisted and applied soon; something kept for long (an in-memory log) should copy.
   */
  readonly onMessage: (messages: Message[]) => void;
  /**
   * A snapshot arrived: `message` is the MsgSnap, `body` the backend database bytes. Resolve once the
   * database is safely stored (and the message stepped); reject to report failure to the sender. The
   * body must be consumed (or the promise settled) for the upload to finish.
   */
  readonly onSnapshot: (message: MsgSnap, body: AsyncIterable<Uint8Array>) => Promise<void>;
  /** Body of GET /members (JSON). */
  readonly membersJson: () => string;
  /** Body of GET /version (JSON), e.g. {"etcdserver":"3.4.0","etcdcluster":"3.4.0"}. */
  readonly versionJson: () => string;
  /**
   * Small request/response calls between members by POST path (e.g. lease keepalives forwarded to
   * the leader): the request body in, the response body out; a rejection answers 500 with its text.
   */
  readonly calls?: Readonly<Record<string, (body: Uint8Array) => Promise<Uint8Array>>>;
  /** Answers GET /members/hashkv (etcd's corruption checks); absent: 404. */
  readonly hashKV?: HashKVProvider;
  /**
   * Bytes of a raft frame received from `from` (etcd_network_peer_received_bytes_total). Called once
   * per frame, synchronously: keep it cheap. A throw is logged and ignored.
   */
  readonly onReceived?: (from: bigint, bytes: number) => void;
}

export interface ReceivedStats {
  messages: number;
  bytes: number;
}

type Admission =
  | { readonly ok: true; readonly from: bigint }
  | { readonly ok: false; readonly status: number; readonly reason: string };

export class PeerServer {
  private readonly logger: TransportLogger;
  private readonly listeners: PeerListener[] = [];
  /** Open inbound raft streams by sender; a newer stream from the same sender replaces older ones. */
  private readonly inbound = new Map<bigint, Set<Duplex>>();
  /** In-progress snapshot uploads, destroyed on close. */
  private readonly uploads = new Set<http2.ServerHttp2Stream>();
  private readonly received = new Map<bigint, ReceivedStats>();
  private closed = false;

  private constructor(private readonly options: PeerServerOptions) {
    this.logger = options.logger ?? silentLogger;
  }

  /** Binds every listen URL; on any failure closes what was bound and rejects. */
  static async start(options: PeerServerOptions): Promise<PeerServer> {
    const server = new PeerServer(options);
    const handlers = {
      onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) =>
        server.route(stream, headers),
      onHttp1: (req: http.IncomingMessage, res: http.ServerResponse) => server.routeHttp1(req, res),
      onUpgrade: (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
        server.routeUpgrade(req, socket, head),
      onTlsError: (e: Error, remote: string) =>
        server.logger.warn('peer port: rejected connection', {
          remote,
          error: (e as Error & { reason?: string }).reason ?? e.message,
        }),
      onTlsReloadError: (e: Error) =>
        server.logger.warn('peer port: cannot use the reloaded certificate; keeping the previous one', {
          error: e.message,
        }),
    };
    try {
      for (const u of options.listenUrls) {
        server.listeners.push(await listenPeer(new URL(u), options.tls, handlers));
      }
    } catch (e) {
      await server.close();
      throw e;
    }
    return server;
  }

  /** The URLs actually bound, in the order of `listenUrls` (real ports when 0 was asked for). */
  get urls(): readonly string[] {
    return this.listeners.map((l) => l.url);
  }

  /** Messages and bytes received per sender since start (for etcd_network_peer_received_bytes_total). */
  receivedStats(): ReadonlyMap<bigint, Readonly<ReceivedStats>> {
    return this.received;
  }

  /**
   * Closes the inbound streams from `id`, e.g. after removing it: its next connection attempt then
   * meets the removed check. Returns how many streams were closed.
   */
  disconnect(id: bigint): number {
    const set = this.inbound.get(id);
    if (set === undefined) return 0;
    this.inbound.delete(id);
    for (const s of set) s.destroy();
    return set.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const set of this.inbound.values()) for (const s of set) s.destroy();
    this.inbound.clear();
    for (const s of this.uploads) s.destroy();
    this.uploads.clear();
    await Promise.all(this.listeners.map((l) => l.close()));
  }

  // ---- Routing ----------------------------------------------------------------------------------

  private route(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', () => {}); // resets and aborts are normal; the 'close' paths clean up
    if (this.closed) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    const method = headers[':method'];
    const path = headers[':path'];
    switch (path) {
      case PATH_RAFT_STREAM:
        if (method !== 'POST') return this.reply(stream, STATUS_METHOD_NOT_ALLOWED, 'method not allowed');
        return this.reply(stream, STATUS_BAD_REQUEST, RAFT_STREAM_NEEDS_UPGRADE);
      case PATH_RAFT_SNAPSHOT:
        if (method !== 'POST') return this.reply(stream, STATUS_METHOD_NOT_ALLOWED, 'method not allowed');
        void this.acceptSnapshot(stream, headers);
        return;
      case PATH_MEMBERS:
      case PATH_VERSION: {
        if (method !== 'GET') return this.reply(stream, STATUS_METHOD_NOT_ALLOWED, 'method not allowed');
        const { status, body } = this.info(path);
        stream.respond({ ':status': status, 'content-type': 'application/json', ...this.clusterHeader() });
        stream.end(body);
        return;
      }
      case PATH_HASHKV:
        void this.serveHashKV(method, stream, (a) => {
          if (stream.destroyed || stream.headersSent) return;
          stream.respond({ ':status': a.status, ...a.headers, ...this.clusterHeader() });
          stream.end(a.body);
        });
        return;
      default: {
        const call = path === undefined ? undefined : this.options.calls?.[path];
        if (call === undefined || method !== 'POST') return this.reply(stream, STATUS_NOT_FOUND, 'not found');
        void this.serveCall(call, stream, (status, body) => {
          if (stream.destroyed) return;
          stream.respond({ ':status': status, ...this.clusterHeader() });
          stream.end(body);
        });
      }
    }
  }

  private routeHttp1(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = req.url;
    if (path === PATH_MEMBERS || path === PATH_VERSION) {
      if (req.method !== 'GET') {
        res.writeHead(STATUS_METHOD_NOT_ALLOWED).end('method not allowed\n');
        return;
      }
      const { status, body } = this.info(path);
      res.writeHead(status, { 'content-type': 'application/json', ...this.clusterHeader() }).end(body);
      return;
    }
    if (path === PATH_HASHKV) {
      void this.serveHashKV(req.method, req, (a) =>
        res.writeHead(a.status, { ...a.headers, ...this.clusterHeader() }).end(a.body),
      );
      return;
    }
    const call = path === undefined ? undefined : this.options.calls?.[path];
    if (call !== undefined && req.method === 'POST') {
      void this.serveCall(call, req, (status, body) => res.writeHead(status, this.clusterHeader()).end(body));
      return;
    }
    if (path === PATH_RAFT_STREAM) {
      res.writeHead(STATUS_BAD_REQUEST).end(`${RAFT_STREAM_NEEDS_UPGRADE}\n`);
      return;
    }
    if (path === PATH_RAFT_SNAPSHOT) {
      res.writeHead(STATUS_BAD_REQUEST).end('snapshots require HTTP/2\n');
      return;
    }
    res.writeHead(STATUS_NOT_FOUND).end('not found\n');
  }

  /** etcd sets its cluster ID on every peer response; a joining member reads it from GET /members. */
  private clusterHeader(): Record<string, string> {
    return { 'x-etcd-cluster-id': idToHex(this.options.clusterId) };
  }

  private async serveCall(
    call: (body: Uint8Array) => Promise<Uint8Array>,
    input: AsyncIterable<unknown>,
    respond: (status: number, body: Uint8Array | string) => void,
  ): Promise<void> {
    try {
      respond(STATUS_OK, await call(await readBody(input)));
    } catch (e) {
      respond(STATUS_INTERNAL_ERROR, errorText(e));
    }
  }

  private async serveHashKV(
    method: string | undefined,
    input: AsyncIterable<unknown>,
    respond: (answer: HashKVAnswer) => void,
  ): Promise<void> {
    let body: Uint8Array;
    try {
      body = await readBody(input);
    } catch (e) {
      respond({ status: STATUS_BAD_REQUEST, headers: {}, body: `error reading body: ${errorText(e)}\n` });
      return;
    }
    const answer = await answerHashKV(method, body, this.options.hashKV);
    if (answer.status === STATUS_BAD_REQUEST) {
      this.logger.warn('failed to get hashKV', { error: answer.body.trim() });
    }
    respond(answer);
  }

  private info(path: string): { status: number; body: string } {
    try {
      const body = path === PATH_MEMBERS ? this.options.membersJson() : this.options.versionJson();
      return { status: STATUS_OK, body };
    } catch (e) {
      this.logger.warn('peer info provider failed', { path, error: errorText(e) });
      return { status: STATUS_INTERNAL_ERROR, body: JSON.stringify({ message: errorText(e) }) };
    }
  }

  /** A complete answer: status, reason header and the reason as a text body (readable with curl). */
  private reply(stream: http2.ServerHttp2Stream, status: number, reason: string): void {
    if (stream.destroyed || stream.headersSent) return;
    stream.respond({ ':status': status, [HEADER_REASON]: reason, 'content-type': 'text/plain' });
    stream.end(reason + '\n');
  }

  private admit(headers: http2.IncomingHttpHeaders, what: string): Admission {
    const { clusterId, memberId } = this.options;
    const protocol = headers[HEADER_PROTOCOL];
    if (protocol !== PROTOCOL_VERSION) {
      this.logger.warn('peer protocol version mismatch', {
        what,
        local: PROTOCOL_VERSION,
        remote: protocol ?? null,
        from: headers[HEADER_FROM] ?? null,
      });
      return { ok: false, status: STATUS_PRECONDITION_FAILED, reason: 'protocol version mismatch' };
    }
    const from = parseHexId(headers[HEADER_FROM]);
    const to = parseHexId(headers[HEADER_TO]);
    const cid = parseHexId(headers[HEADER_CLUSTER_ID]);
    if (from === undefined || to === undefined || cid === undefined) {
      return {
        ok: false,
        status: STATUS_BAD_REQUEST,
        reason: 'missing or malformed member/cluster ID headers',
      };
    }
    if (cid !== clusterId) {
      this.logger.warn(
        `request cluster ID mismatch: local cluster ID ${idToHex(clusterId)}, ` +
          `remote cluster ID ${idToHex(cid)} (from ${idToHex(from)})`,
        { what, localClusterId: idToHex(clusterId), remoteClusterId: idToHex(cid), from: idToHex(from) },
      );
      // The phrase "cluster ID mismatch" is what operators (and etcd) grep for.
      return { ok: false, status: STATUS_PRECONDITION_FAILED, reason: 'cluster ID mismatch' };
    }
    if (to !== memberId) {
      this.logger.warn('peer request for another member', {
        what,
        local: idToHex(memberId),
        requested: idToHex(to),
        from: idToHex(from),
      });
      return { ok: false, status: STATUS_PRECONDITION_FAILED, reason: 'receiver ID mismatch' };
    }
    if (this.options.isRemoved(from)) {
      this.logger.warn('refused peer request from a removed member', { what, from: idToHex(from) });
      return { ok: false, status: STATUS_GONE, reason: 'member removed' };
    }
    if (this.options.isKnownPeer !== undefined && !this.options.isKnownPeer(from)) {
      const raw = headers[HEADER_PEER_URLS];
      const urls = typeof raw === 'string' && raw !== '' ? raw.split(',') : [];
      this.logger.info('admitting a peer request from a member not known yet', {
        what,
        from: idToHex(from),
        peerUrls: urls,
      });
      try {
        this.options.onUnknownSender?.(from, urls);
      } catch (e) {
        this.logger.warn('onUnknownSender failed', { error: errorText(e) });
      }
    }
    return { ok: true, from };
  }

  // ---- Raft message streams ---------------------------------------------------------------------

  private routeUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {}); // resets are normal; 'close' cleans up
    if (this.closed) {
      socket.destroy();
      return;
    }
    if (req.url !== PATH_RAFT_STREAM) return refuseUpgrade(socket, STATUS_NOT_FOUND, 'not found');
    if (req.method !== 'POST') return refuseUpgrade(socket, STATUS_METHOD_NOT_ALLOWED, 'method not allowed');
    if (req.headers.upgrade !== RAFT_STREAM_UPGRADE) {
      return refuseUpgrade(socket, STATUS_BAD_REQUEST, `unknown upgrade ${String(req.headers.upgrade)}`);
    }
    const admission = this.admit(req.headers, 'raft stream');
    if (!admission.ok) return refuseUpgrade(socket, admission.status, admission.reason);
    this.acceptRaftStream(admission.from, socket, head);
  }

  private acceptRaftStream(from: bigint, socket: Duplex, head: Buffer): void {
    // One live stream per sender: an older one is a leftover of a connection the sender gave up on.
    const older = this.inbound.get(from);
    if (older !== undefined) for (const s of older) s.destroy();
    const set = new Set<Duplex>([socket]);
    this.inbound.set(from, set);
    let stats = this.received.get(from);
    if (stats === undefined) {
      stats = { messages: 0, bytes: 0 };
      this.received.set(from, stats);
    }
    const counters = stats;

    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: ${RAFT_STREAM_UPGRADE}\r\n\r\n`,
    );
    const decoder = new FrameDecoder(MAX_FRAME_BYTES);
    const onMessage = this.options.onMessage;
    const onReceived = this.options.onReceived;
    const onFrame = (payload: Uint8Array): void => {
      if (payload.byteLength === 0) {
        socket.write(PING_FRAME); // a ping: answered in kind
        return;
      }
      const messages = decodeBatch(payload);
      counters.messages += messages.length;
      counters.bytes += payload.byteLength + 4;
      if (onReceived !== undefined) {
        try {
          onReceived(from, payload.byteLength + 4);
        } catch (e) {
          this.logger.warn('onReceived failed', { from: idToHex(from), error: errorText(e) });
        }
      }
      try {
        onMessage(messages);
      } catch (e) {
        this.logger.warn('onMessage failed', { from: idToHex(from), error: errorText(e) });
      }
    };
    const onData = (chunk: Buffer): void => {
      try {
        decoder.push(chunk, onFrame);
      } catch (e) {
        // A bad frame leaves the stream position unknown: drop it; the sender reconnects.
        this.logger.warn('dropping a malformed raft stream', { from: idToHex(from), error: errorText(e) });
        socket.destroy();
      }
    };
    socket.on('data', onData);
    socket.on('end', () => socket.end());
    socket.once('close', () => {
      set.delete(socket);
      if (set.size === 0 && this.inbound.get(from) === set) this.inbound.delete(from);
    });
    if (head.byteLength > 0) onData(head);
  }

  // ---- Snapshots --------------------------------------------------------------------------------

  private async acceptSnapshot(
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
  ): Promise<void> {
    const admission = this.admit(headers, 'snapshot');
    if (!admission.ok) return this.reply(stream, admission.status, admission.reason);
    const from = admission.from;
    this.uploads.add(stream);
    stream.once('close', () => this.uploads.delete(stream));

    const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let message: MsgSnap;
    let rest: Buffer;
    try {
      const head = await readSnapshotHead(chunks);
      if (head === undefined) return this.reply(stream, STATUS_BAD_REQUEST, 'truncated snapshot message');
      // A plain view, so the message's byte fields are Uint8Arrays as everywhere in raft, not Buffers.
      const m = head.message;
      const decoded = decodeMessage(new Uint8Array(m.buffer, m.byteOffset, m.byteLength));
      if (decoded.type !== 'MsgSnap') {
        return this.reply(stream, STATUS_BAD_REQUEST, `expected MsgSnap, got ${decoded.type}`);
      }
      if (decoded.to !== this.options.memberId || decoded.from !== from) {
        return this.reply(stream, STATUS_BAD_REQUEST, 'MsgSnap from/to do not match the headers');
      }
      message = decoded;
      rest = head.rest;
    } catch (e) {
      this.logger.warn('bad snapshot upload', { from: idToHex(from), error: errorText(e) });
      this.reply(stream, STATUS_BAD_REQUEST, `bad snapshot message: ${errorText(e)}`);
      stream.close(http2.constants.NGHTTP2_CANCEL);
      return;
    }

    const body = snapshotBody(rest, chunks);
    try {
      await this.options.onSnapshot(message, body);
    } catch (e) {
      this.logger.warn('receiving snapshot failed', {
        from: idToHex(from),
        index: message.snapshot.metadata.index,
        error: errorText(e),
      });
      this.reply(stream, STATUS_INTERNAL_ERROR, `snapshot not saved: ${errorText(e)}`);
      // The sender may still be writing the body: stop it rather than read and discard megabytes.
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
      return;
    }
    this.logger.info('received snapshot', { from: idToHex(from), index: message.snapshot.metadata.index });
    if (stream.destroyed || stream.headersSent) return;
    stream.respond({ ':status': STATUS_OK });
    stream.end();
    // A callback that resolved without reading the whole body: the answer is sent; discard the rest.
    void discard(chunks);
  }
}

const RAFT_STREAM_NEEDS_UPGRADE = `a raft stream is an HTTP/1.1 request with Upgrade: ${RAFT_STREAM_UPGRADE}`;

/** Refuses an upgrade with a complete HTTP/1.1 answer (status, reason header, reason as text) and closes. */
function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n` +
      `${HEADER_REASON}: ${reason}\r\ncontent-type: text/plain\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** The whole body of a small request (at most MAX_CALL_BYTES). */
async function readBody(input: AsyncIterable<unknown>): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const b = chunk as Buffer;
    size += b.byteLength;
    if (size > MAX_CALL_BYTES) throw new Error('request too large');
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Reads the length-prefixed MsgSnap at the start of an upload; undefined if the stream ends first. */
async function readSnapshotHead(
  chunks: AsyncIterator<Buffer>,
): Promise<{ message: Uint8Array; rest: Buffer } | undefined> {
  let have: Buffer = Buffer.alloc(0);
  while (have.byteLength < 4) {
    const r = await chunks.next();
    if (r.done === true) return undefined;
    have = have.byteLength === 0 ? r.value : Buffer.concat([have, r.value]);
  }
  const n = have.readUInt32BE(0);
  if (n > MAX_SNAPSHOT_MESSAGE_BYTES) {
    throw new Error(`snapshot message of ${n} bytes exceeds the limit of ${MAX_SNAPSHOT_MESSAGE_BYTES}`);
  }
  if (have.byteLength >= 4 + n) {
    return { message: have.subarray(4, 4 + n), rest: have.subarray(4 + n) };
  }
  const message = Buffer.allocUnsafe(n);
  let filled = have.byteLength - 4;
  have.copy(message, 0, 4);
  let rest: Buffer = Buffer.alloc(0);
  while (filled < n) {
    const r = await chunks.next();
    if (r.done === true) return undefined;
    const take = Math.min(n - filled, r.value.byteLength);
    r.value.copy(message, filled, 0, take);
    filled += take;
    if (take < r.value.byteLength) rest = r.value.subarray(take);
  }
  return { message, rest };
}

/** The database bytes: what followed the message in its chunk, then the rest of the stream. */
async function* snapshotBody(rest: Buffer, chunks: AsyncIterator<Buffer>): AsyncGenerator<Uint8Array> {
  if (rest.byteLength > 0) yield rest;
  for (;;) {
    const r = await chunks.next();
    if (r.done === true) return;
    yield r.value;
  }
}

async function discard(chunks: AsyncIterator<Buffer>): Promise<void> {
  try {
    while ((await chunks.next()).done !== true);
  } catch {
    // The sender went away: nothing left to discard.
  }
}
