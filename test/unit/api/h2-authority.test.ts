// The `:authority` rewriter of the client port: the pure frame rewriter on hand-built client byte
// streams (split at every byte, CONTINUATION, padding, priority, Huffman, a dynamic table that
// evicts, protocol errors), and settleH2Connection in front of a real Node HTTP/2 server with Node's
// HTTP/2 client (which, like grpc-go, sends what it is given as `:authority`).

import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';

import {
  ClientFrameRewriter,
  EMPTY_SETTINGS_FRAME,
  H2_PREFACE,
  MAX_FRAME_SIZE,
  settleH2Connection,
  stripScheme,
  type H2Connection,
} from '../../../src/api/h2-authority.js';
import { HpackDecoder, HpackEncoder, type HeaderField } from '../../../src/api/hpack.js';

const DATA = 0;
const HEADERS = 1;
const SETTINGS = 4;
const PUSH_PROMISE = 5;
const PING = 6;
const WINDOW_UPDATE = 8;
const CONTINUATION = 9;

interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return Buffer.concat([h, payload]);
}

function parseFrames(buf: Buffer): Frame[] {
  const frames: Frame[] = [];
  let off = 0;
  while (off < buf.length) {
    const length = buf.readUIntBE(off, 3);
    frames.push({
      type: buf[off + 3],
      flags: buf[off + 4],
      streamId: buf.readUInt32BE(off + 5),
      payload: buf.subarray(off + 9, off + 9 + length),
    });
    off += 9 + length;
  }
  assert.equal(off, buf.length, 'output ends on a frame boundary');
  return frames;
}

const f = (name: string, value: string): HeaderField => ({ name, value, sensitive: false });
const SETTINGS_ACK = frame(SETTINGS, 1, 0);
const CLIENT_SETTINGS = frame(SETTINGS, 0, 0, Buffer.from([0, 2, 0, 0, 0, 0, 0, 4, 0, 0x40, 0, 0]));
const request = (authority: string, path: string, extra: HeaderField[] = []): HeaderField[] => [
  f(':method', 'POST'),
  f(':scheme', 'http'),
  f(':path', path),
  f(':authority', authority),
  f('content-type', 'application/grpc'),
  f('te', 'trailers'),
  ...extra,
];

/** The output's header blocks decoded as nghttp2 would (one decoder for the connection, in order). */
function decodeOutput(out: Buffer): {
  frames: Frame[];
  requests: { streamId: number; flags: number; fields: HeaderField[] }[];
} {
  assert.deepEqual(out.subarray(0, H2_PREFACE.length), H2_PREFACE, 'the preface passes first');
  const frames = parseFrames(out.subarray(H2_PREFACE.length));
  const decoder = new HpackDecoder();
  const requests: { streamId: number; flags: number; fields: HeaderField[] }[] = [];
  for (let i = 0; i < frames.length; i++) {
    const fr = frames[i];
    if (fr.type !== HEADERS) continue;
    assert.equal(fr.flags & 0x8, 0, 'no padding after rewriting');
    const parts = [fr.payload.subarray(fr.flags & 0x20 ? 5 : 0)];
    let last = fr;
    while ((last.flags & 0x4) === 0) {
      last = frames[++i];
      assert.equal(last.type, CONTINUATION);
      assert.equal(last.streamId, fr.streamId);
      parts.push(last.payload);
    }
    requests.push({ streamId: fr.streamId, flags: fr.flags, fields: decoder.decode(Buffer.concat(parts)) });
  }
  for (const fr of frames) assert.ok(fr.payload.length <= MAX_FRAME_SIZE, 'frames fit the default size');
  return { frames, requests };
}

test('stripScheme cuts a scheme and a path off the authority, and only those', () => {
  assert.equal(stripScheme('http://127.0.0.1:2379'), '127.0.0.1:2379');
  assert.equal(stripScheme('https://[::1]:2379/'), '[::1]:2379');
  assert.equal(stripScheme('unix+tls://host:1/a/b'), 'host:1');
  assert.equal(stripScheme('127.0.0.1:2379'), '127.0.0.1:2379');
  assert.equal(stripScheme('localhost'), 'localhost');
});

test('rewriter: same bytes out however the input is split; padding dropped, priority and other frames kept', () => {
  const client = new HpackEncoder({ huffman: true });
  const long = 'x'.repeat(300);
  const block1 = client.encode(
    request('http://127.0.0.1:2379', '/etcdserverpb.Maintenance/Status', [f('x-long', long)]),
  );
  const block3 = client.encode(request('http://127.0.0.1:2379', '/etcdserverpb.Maintenance/HashKV'));
  // Stream 1: PADDED + PRIORITY HEADERS carrying a third of the block, then two CONTINUATIONs.
  const a = Math.floor(block1.length / 3);
  const priority = Buffer.from([0x80, 0, 0, 0, 0x0f]);
  const padding = Buffer.alloc(7, 0);
  const headers1 = frame(
    HEADERS,
    0x8 | 0x20,
    1,
    Buffer.concat([Buffer.from([7]), priority, block1.subarray(0, a), padding]),
  );
  const cont1 = frame(CONTINUATION, 0, 1, block1.subarray(a, 2 * a));
  const cont2 = frame(CONTINUATION, 0x4, 1, block1.subarray(2 * a));
  const data1 = frame(DATA, 0x1 | 0x8, 1, Buffer.from([2, 0, 0, 0, 0, 0, 0xaa, 0xbb]));
  const ping = frame(PING, 0, 0, Buffer.from('12345678'));
  const headers3 = frame(HEADERS, 0x4 | 0x1, 3, block3);
  const windowUpdate = frame(WINDOW_UPDATE, 0, 0, Buffer.from([0, 0, 0x10, 0]));
  const ordered = Buffer.concat([
    H2_PREFACE,
    CLIENT_SETTINGS,
    windowUpdate,
    SETTINGS_ACK, // the ACK of the port's injected SETTINGS: dropped
    headers1,
    cont1,
    cont2,
    data1,
    ping,
    SETTINGS_ACK, // the ACK of the server's own SETTINGS: kept
    headers3,
  ]);

  const whole = new ClientFrameRewriter({ dropFirstSettingsAck: true }).push(ordered);
  const { frames, requests } = decodeOutput(whole);
  assert.deepEqual(
    frames.map((x) => [x.type, x.flags, x.streamId]),
    [
      [SETTINGS, 0, 0],
      [WINDOW_UPDATE, 0, 0],
      [HEADERS, 0x20 | 0x4, 1],
      [DATA, 0x1 | 0x8, 1],
      [PING, 0, 0],
      [SETTINGS, 1, 0],
      [HEADERS, 0x4 | 0x1, 3],
    ],
  );
  assert.deepEqual(frames[2].payload.subarray(0, 5), priority, 'priority fields kept');
  assert.ok(whole.includes(Buffer.concat([data1, ping, SETTINGS_ACK])), 'other frames pass byte for byte');
  assert.ok(!whole.includes(block3), 'header blocks are re-encoded');
  assert.deepEqual(
    requests[0].fields,
    request('127.0.0.1:2379', '/etcdserverpb.Maintenance/Status', [f('x-long', long)]),
  );
  assert.deepEqual(requests[1].fields, request('127.0.0.1:2379', '/etcdserverpb.Maintenance/HashKV'));

  for (let cut = 1; cut < ordered.length; cut++) {
    const r = new ClientFrameRewriter({ dropFirstSettingsAck: true });
    const out = Buffer.concat([r.push(ordered.subarray(0, cut)), r.push(ordered.subarray(cut))]);
    assert.deepEqual(out, whole, `split at byte ${cut}`);
  }
  const r = new ClientFrameRewriter({ dropFirstSettingsAck: true });
  const bytewise = Buffer.concat([...ordered].map((b) => r.push(Buffer.from([b]))));
  assert.deepEqual(bytewise, whole, 'one byte at a time');
});

test('rewriter: a header block longer than one frame is re-framed into CONTINUATIONs', () => {
  const client = new HpackEncoder({ huffman: false });
  const big = 'v'.repeat(40_000);
  const block = client.encode(request('http://h:1', '/p', [f('x-big', big)]));
  const input = [H2_PREFACE, CLIENT_SETTINGS];
  for (let off = 0, first = true; off < block.length; first = false) {
    const n = Math.min(MAX_FRAME_SIZE, block.length - off);
    const end = off + n === block.length ? 0x4 : 0;
    input.push(
      frame(first ? HEADERS : CONTINUATION, end | (first ? 0x1 : 0), 1, block.subarray(off, off + n)),
    );
    off += n;
  }
  const out = new ClientFrameRewriter().push(Buffer.concat(input));
  const { frames, requests } = decodeOutput(out);
  assert.deepEqual(
    frames.map((x) => x.type),
    [SETTINGS, HEADERS, CONTINUATION, CONTINUATION],
  );
  assert.equal(frames[1].flags, 0x1, 'END_STREAM stays on HEADERS, END_HEADERS moves to the last frame');
  assert.equal(frames[3].flags, 0x4);
  assert.deepEqual(requests[0].fields, request('h:1', '/p', [f('x-big', big)]));
});

test('rewriter: many requests on one connection while the client table evicts and re-adds the authority', () => {
  const client = new HpackEncoder({ huffman: true });
  const rewriter = new ClientFrameRewriter();
  const chunks: Buffer[] = [rewriter.push(Buffer.concat([H2_PREFACE, CLIENT_SETTINGS]))];
  const expected: HeaderField[][] = [];
  const inputSizes: number[] = [];
  for (let i = 0; i < 400; i++) {
    const authority = i % 50 < 45 ? 'http://127.0.0.1:2379' : 'http://10.0.0.7:2379';
    // Each request brings a unique ~400-byte header: the 4096-byte table turns over every ~9 requests.
    const extra = [f('x-request', `${i}-${'r'.repeat(380)}`), f('grpc-timeout', `${i % 7}m`)];
    const block = client.encode(request(authority, `/etcdserverpb.KV/Range${i % 3}`, extra));
    inputSizes.push(block.length);
    expected.push(request(stripScheme(authority), `/etcdserverpb.KV/Range${i % 3}`, extra));
    chunks.push(rewriter.push(frame(HEADERS, 0x4, 2 * i + 1, block)));
  }
  const { requests } = decodeOutput(Buffer.concat(chunks));
  assert.equal(requests.length, 400);
  requests.forEach((r, i) => {
    assert.equal(r.streamId, 2 * i + 1);
    assert.deepEqual(r.fields, expected[i], `request ${i}`);
  });
  // The client referred to its dynamic table (small blocks) and the re-encoder does so too.
  assert.ok(Math.min(...inputSizes) < 420, 'the client encoder indexed the repeated fields');
});

test('rewriter: broken streams are refused', () => {
  const start = Buffer.concat([H2_PREFACE, CLIENT_SETTINGS]);
  const push =
    (...frames: Buffer[]) =>
    () =>
      new ClientFrameRewriter().push(Buffer.concat([start, ...frames]));
  const block = new HpackEncoder().encode(request('http://h:1', '/p'));
  assert.throws(push(frame(CONTINUATION, 0x4, 1, block)), /CONTINUATION without its HEADERS/);
  assert.throws(
    push(frame(HEADERS, 0, 1, block.subarray(0, 3)), frame(CONTINUATION, 0x4, 3, block.subarray(3))),
    /CONTINUATION without its HEADERS/,
  );
  assert.throws(
    push(frame(HEADERS, 0, 1, block), frame(PING, 0, 0, Buffer.alloc(8))),
    /inside a header block/,
  );
  assert.throws(push(frame(PUSH_PROMISE, 0x4, 1, Buffer.alloc(4))), /PUSH_PROMISE/);
  assert.throws(push(frame(HEADERS, 0x4, 0, block)), /stream 0/);
  assert.throws(push(frame(HEADERS, 0x4 | 0x8, 1, Buffer.from([200, 1, 2]))), /padding longer/);
  assert.throws(push(frame(HEADERS, 0x4, 1, Buffer.from([0xff, 0xff]))), /hpack/);
  assert.throws(push(frame(HEADERS, 0x4, 1, Buffer.alloc(MAX_FRAME_SIZE + 1))), /frame of 16385 bytes/);
});

// ---- settleH2Connection with real sockets ----

interface H2Harness {
  readonly port: number;
  readonly routes: H2Connection['kind'][];
  /** What the server saw as each request's authority, in order. */
  readonly authorities: string[];
}

interface TestContext {
  after(fn: () => Promise<void> | void): void;
}

async function startHarness(t: TestContext, firstHeadersTimeoutMs: number): Promise<H2Harness> {
  const routes: H2Connection['kind'][] = [];
  const authorities: string[] = [];
  const h2 = http2.createServer();
  h2.on('stream', (stream, headers) => {
    authorities.push(String(headers[':authority']));
    stream.respond({ ':status': 200, 'x-n': String(headers['x-n'] ?? '') });
    // /echo sends the request body back; anything else answers with the authority it saw.
    if (headers[':path'] === '/echo') stream.pipe(stream);
    else stream.end(String(headers[':authority']));
  });
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let seen = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      seen = Buffer.concat([seen, c]);
      if (seen.length < H2_PREFACE.length) return;
      socket.off('data', onData);
      socket.pause();
      settleH2Connection(socket, seen, { firstHeadersTimeoutMs, onProtocolError: () => {} }, (c) => {
        routes.push(c.kind);
        h2.emit('connection', c.kind === 'native' ? c.socket : c.stream);
      });
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    h2.close();
  });
  const port = (server.address() as { port: number }).port;
  return { port, routes, authorities };
}

function get(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
): Promise<{ status: number; n: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': '/', ...headers });
    let body = '';
    let status = 0;
    let n = '';
    req.setEncoding('utf8');
    req.on('response', (h) => {
      status = Number(h[':status']);
      n = String(h['x-n']);
    });
    req.on('data', (c: string) => (body += c));
    req.on('end', () => resolve({ status, n, body }));
    req.on('error', reject);
    req.end();
  });
}

test(
  'settle: a normal authority hands the raw socket over, even when HEADERS precede the ACK',
  { timeout: 20_000 },
  async (t) => {
    const h = await startHarness(t, 60_000);
    const session = http2.connect(`http://127.0.0.1:${h.port}`);
    t.after(() => void session.destroy());
    const goaways: number[] = [];
    session.on('goaway', (code: number) => goaways.push(code));
    session.on('error', () => {});
    // Node's client sends its first HEADERS without waiting for the server's SETTINGS.
    const replies = await Promise.all([1, 2, 3].map((i) => get(session, { 'x-n': String(i) })));
    assert.deepEqual(
      replies.map((r) => [r.status, r.n, r.body]),
      [1, 2, 3].map((i) => [200, String(i), `127.0.0.1:${h.port}`]),
    );
    // After a PING round trip the client has ACKed the server's own SETTINGS too. Had the ACK of
    // the injected frame reached nghttp2, this second ACK would be "unexpected" and end the connection.
    await new Promise<void>((resolve) => session.ping(() => resolve()));
    const later = await get(session, { 'x-n': 'later' });
    assert.deepEqual([later.status, later.n], [200, 'later']);
    assert.deepEqual(goaways, []);
    assert.deepEqual(h.routes, ['native']);
  },
);

test(
  'settle: a scheme in the authority goes through the rewriter for the whole connection',
  { timeout: 20_000 },
  async (t) => {
    const h = await startHarness(t, 60_000);
    const session = http2.connect(`http://127.0.0.1:${h.port}`);
    t.after(() => void session.destroy());
    const authority = `http://127.0.0.1:${h.port}`;
    const big = 'b'.repeat(20_000);
    for (let i = 0; i < 300; i++) {
      // Unique values make Node's encoder evict; a 20 KB header makes it send CONTINUATION frames.
      const extra = i === 150 ? { 'x-big': big } : {};
      const r = await get(session, { ':authority': authority, 'x-n': `${i}-${'n'.repeat(200)}`, ...extra });
      assert.deepEqual([r.status, r.n, r.body], [200, `${i}-${'n'.repeat(200)}`, `127.0.0.1:${h.port}`]);
    }
    const parallel = await Promise.all(
      Array.from({ length: 50 }, (_, i) => get(session, { ':authority': authority, 'x-n': `p${i}` })),
    );
    assert.deepEqual(
      parallel.map((r) => r.n),
      Array.from({ length: 50 }, (_, i) => `p${i}`),
    );
    assert.deepEqual(h.routes, ['rewriting']);
    assert.equal(h.authorities.length, 350);
    assert.ok(h.authorities.every((a) => a === `127.0.0.1:${h.port}`));
  },
);

test(
  'settle: megabytes flow both ways through the rewriter, with flow control and back-pressure',
  { timeout: 20_000 },
  async (t) => {
    const h = await startHarness(t, 60_000);
    const session = http2.connect(`http://127.0.0.1:${h.port}`);
    t.after(() => void session.destroy());
    const body = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4) body.writeUInt32LE(i, i);
    const echoed = await new Promise<Buffer>((resolve, reject) => {
      const req = session.request({
        ':path': '/echo',
        ':method': 'POST',
        ':authority': `http://127.0.0.1:${h.port}`,
      });
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(echoed.length, body.length);
    assert.ok(echoed.equals(body), 'the echo matches byte for byte');
    assert.deepEqual(h.routes, ['rewriting']);
  },
);

/** A hand-driven HTTP/2 client: collects the server's frames and answers nothing by itself. */
interface RawClient {
  readonly socket: Socket;
  readonly frames: Frame[];
  /** The next server frame of this type (and flags), skipping others. */
  next(type: number, flags?: number): Promise<Frame>;
}

function rawClient(port: number): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const frames: Frame[] = [];
    let buf = Buffer.alloc(0);
    const waiters: (() => void)[] = [];
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
        const n = 9 + buf.readUIntBE(0, 3);
        frames.push(parseFrames(buf.subarray(0, n))[0]);
        buf = buf.subarray(n);
      }
      waiters.splice(0).forEach((w) => w());
    });
    socket.on('error', reject);
    let taken = 0;
    const next = async (type: number, flags?: number): Promise<Frame> => {
      for (;;) {
        while (taken < frames.length) {
          const fr = frames[taken++];
          if (fr.type === type && (flags === undefined || fr.flags === flags)) return fr;
        }
        await new Promise<void>((r) => waiters.push(r));
      }
    };
    socket.on('connect', () => resolve({ socket, frames, next }));
  });
}

test(
  'settle: a PING before any request is answered at once through the rewriter',
  { timeout: 20_000 },
  async (t) => {
    const h = await startHarness(t, 60_000);
    const c = await rawClient(h.port);
    t.after(() => void c.socket.destroy());
    c.socket.write(Buffer.concat([H2_PREFACE, CLIENT_SETTINGS, frame(PING, 0, 0, Buffer.from('pingpong'))]));
    // The injected SETTINGS comes first, then the server's own.
    const first = await c.next(SETTINGS);
    assert.deepEqual(frame(first.type, first.flags, first.streamId, first.payload), EMPTY_SETTINGS_FRAME);
    const pong = await c.next(PING);
    assert.equal(pong.flags, 1);
    assert.equal(pong.payload.toString(), 'pingpong');
    assert.deepEqual(h.routes, ['rewriting']);
  },
);

test(
  'settle: a silent client is rewritten after the timeout; both SETTINGS ACKs are then fine',
  { timeout: 20_000 },
  async (t) => {
    const h = await startHarness(t, 20);
    const c = await rawClient(h.port);
    t.after(() => void c.socket.destroy());
    c.socket.write(Buffer.concat([H2_PREFACE, CLIENT_SETTINGS]));
    await c.next(SETTINGS, 0); // injected
    await c.next(SETTINGS, 0); // the server's own, sent once it has the connection
    // ACK both: the first ACK must not reach the server, or the second would be a protocol error.
    c.socket.write(Buffer.concat([SETTINGS_ACK, SETTINGS_ACK]));
    const block = new HpackEncoder().encode([
      f(':method', 'GET'),
      f(':scheme', 'http'),
      f(':path', '/'),
      f(':authority', `127.0.0.1:${h.port}`),
    ]);
    c.socket.write(frame(HEADERS, 0x5, 1, block));
    const response = await c.next(HEADERS);
    assert.equal(response.streamId, 1);
    assert.equal(new HpackDecoder().decode(response.payload)[0].value, '200');
    assert.deepEqual(h.routes, ['rewriting']);
    assert.equal(c.frames.filter((x) => x.type === 7).length, 0, 'no GOAWAY');
  },
);
