// The client port's own HTTP/2 (src/api/h2-connection.ts), driven two ways over real loopback
// sockets: Node's HTTP/2 client for ordinary traffic, and a hand-framing client for what ordinary
// clients rarely do (tiny windows, CONTINUATION, padding, resets, broken frames).

import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { test } from 'node:test';

import { H2_PREFACE, H2ServerConnection, type H2Stream } from '../../../src/api/h2-connection.js';
import { encodeStatelessBlock, HpackDecoder, HpackEncoder } from '../../../src/api/hpack.js';

interface TestContext {
  after(fn: () => void | Promise<void>): void;
}

const OK = encodeStatelessBlock([
  [':status', '200'],
  ['content-type', 'application/grpc'],
]);
const TRAILERS = encodeStatelessBlock([['grpc-status', '0']]);

interface Served {
  readonly port: number;
  readonly streams: H2Stream[];
  readonly errors: Error[];
}

/** A listener whose every connection is an H2ServerConnection calling `onStream`. */
async function serve(
  t: TestContext,
  onStream: (stream: H2Stream) => void,
  options: { keepaliveTimeMs?: number; keepaliveTimeoutMs?: number } = {},
): Promise<Served> {
  const streams: H2Stream[] = [];
  const errors: Error[] = [];
  const connections: H2ServerConnection[] = [];
  const server: Server = createServer((socket) => {
    connections.push(
      new H2ServerConnection(socket, Buffer.alloc(0), {
        onStream: (s) => {
          streams.push(s);
          onStream(s);
        },
        onProtocolError: (e) => errors.push(e),
        ...options,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const c of connections) c.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { port: address.port, streams, errors };
}

/** Echoes the request body back in one message once the client ends it. */
function echo(stream: H2Stream): void {
  const parts: Buffer[] = [];
  stream.ondata = (c) => parts.push(Buffer.from(c));
  stream.onend = () => {
    stream.respond(OK, false);
    stream.write(Buffer.concat(parts));
    stream.end(TRAILERS);
  };
}

interface NodeAnswer {
  readonly headers: http2.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly trailers: http2.IncomingHttpHeaders;
}

function request(session: http2.ClientHttp2Session, path: string, body: Buffer): Promise<NodeAnswer> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc' });
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const parts: Buffer[] = [];
    req.on('response', (h) => (headers = h));
    req.on('trailers', (h) => (trailers = h));
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('error', reject);
    req.on('close', () => resolve({ headers, body: Buffer.concat(parts), trailers }));
    req.end(body);
  });
}

test('Node’s HTTP/2 client: requests on one connection, large bodies both ways, headers and trailers', async (t) => {
  const s = await serve(t, echo);
  const session = http2.connect(`http://127.0.0.1:${s.port}`);
  t.after(() => void session.destroy());
  const big = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < big.length; i++) big[i] = i % 251;
  const answers = await Promise.all([
    request(session, '/a', Buffer.from('one')),
    request(session, '/b', big),
    request(session, '/c', Buffer.from('three')),
  ]);
  assert.deepEqual(
    answers.map((a) => [a.headers[':status'], a.headers['content-type'], a.trailers['grpc-status']]),
    [
      [200, 'application/grpc', '0'],
      [200, 'application/grpc', '0'],
      [200, 'application/grpc', '0'],
    ],
  );
  assert.equal(answers[0].body.toString(), 'one');
  assert.ok(answers[1].body.equals(big), 'the 3 MiB body comes back intact');
  assert.equal(answers[2].body.toString(), 'three');
  assert.deepEqual(
    s.streams.map((x) => x.headers[':path']),
    ['/a', '/b', '/c'],
  );
  assert.deepEqual(s.errors, []);
});

// ---- a client that frames by hand ----

interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

function encodeFrame(
  type: number,
  flags: number,
  streamId: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const b = Buffer.alloc(9 + payload.length);
  b.writeUIntBE(payload.length, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(streamId, 5);
  payload.copy(b, 9);
  return b;
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

function settings(pairs: [number, number][]): Buffer {
  const b = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, v], i) => {
    b.writeUInt16BE(id, i * 6);
    b.writeUInt32BE(v, i * 6 + 2);
  });
  return encodeFrame(4, 0, 0, b);
}

/** Whether `socket` closes within `ms` (it must be reading, or it never sees the server's FIN). */
function closesWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.closed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

class RawClient {
  readonly frames: Frame[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private readonly encoder = new HpackEncoder();
  readonly decoder = new HpackDecoder();

  private constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      while (this.buf.length >= 9) {
        const length = this.buf.readUIntBE(0, 3);
        if (this.buf.length < 9 + length) break;
        this.frames.push({
          type: this.buf[3],
          flags: this.buf[4],
          streamId: this.buf.readUInt32BE(5) & 0x7fffffff,
          payload: Buffer.from(this.buf.subarray(9, 9 + length)),
        });
        this.buf = this.buf.subarray(9 + length);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static async open(
    t: TestContext,
    port: number,
    clientSettings: [number, number][] = [],
  ): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    t.after(() => void socket.destroy());
    const c = new RawClient(socket);
    socket.write(Buffer.concat([H2_PREFACE, settings(clientSettings)]));
    return c;
  }

  send(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }

  headerBlock(path: string, extra: [string, string][] = []): Buffer {
    return this.encoder.encode(
      [
        [':method', 'POST'],
        [':scheme', 'http'],
        [':path', path],
        [':authority', 'localhost'],
        ['content-type', 'application/grpc'],
        ...extra,
      ].map(([name, value]) => ({ name, value, sensitive: false })),
    );
  }

  /** Waits until `done` holds over the frames received so far; throws if the socket closes first or 10 s pass. */
  async until(done: (frames: readonly Frame[]) => boolean): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!done(this.frames)) {
      if (this.closed) throw new Error(`connection closed; frames: ${JSON.stringify(this.summary())}`);
      if (Date.now() > deadline) throw new Error(`no such frames in 10 s: ${JSON.stringify(this.summary())}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5000);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async closedWith(): Promise<{ code: number; debug: string }> {
    assert.ok(await closesWithin(this.socket, 5000), 'the server closes the connection');
    const goaway = this.frames.find((f) => f.type === 7);
    assert.ok(goaway !== undefined, 'a GOAWAY before the close');
    return { code: goaway.payload.readUInt32BE(4), debug: goaway.payload.subarray(8).toString() };
  }

  summary(): [number, number, number, number][] {
    return this.frames.map((f) => [f.type, f.flags, f.streamId, f.payload.length]);
  }

  data(streamId: number): Buffer {
    return Buffer.concat(
      this.frames.filter((f) => f.type === 0 && f.streamId === streamId).map((f) => f.payload),
    );
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

const TYPE = {
  DATA: 0,
  HEADERS: 1,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
};
const END_STREAM = 1;
const END_HEADERS = 4;
const PADDED = 8;

const endsStream = (id: number) => (frames: readonly Frame[]) =>
  frames.some(
    (f) => f.streamId === id && (f.type === TYPE.HEADERS || f.type === TYPE.DATA) && f.flags & END_STREAM,
  );

test('sends no more DATA than the client’s windows allow, and the trailers only after all of it', async (t) => {
  const payload = Buffer.alloc(100, 7);
  const s = await serve(t, (stream) => {
    stream.onend = () => {
      stream.respond(OK, false);
      stream.write(payload);
      stream.end(TRAILERS);
    };
  });
  const c = await RawClient.open(t, s.port, [[4, 10]]); // SETTINGS_INITIAL_WINDOW_SIZE = 10
  c.send(encodeFrame(TYPE.HEADERS, END_HEADERS | END_STREAM, 1, c.headerBlock('/w')));
  await c.until((f) => f.some((x) => x.type === TYPE.DATA));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(c.data(1).length, 10, 'only the 10 bytes of the stream window');
  assert.ok(!endsStream(1)(c.frames), 'no trailers while DATA is held back');
  c.send(encodeFrame(TYPE.WINDOW_UPDATE, 0, 1, u32(50)));
  await c.until((f) => c.data(1).length >= 60 && f.length > 0);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(c.data(1).length, 60);
  // A larger initial window applies to open streams too (RFC 9113 §6.9.2).
  c.send(settings([[4, 1000]]));
  await c.until(endsStream(1));
  assert.ok(c.data(1).equals(payload));
  const last = c.frames.filter((f) => f.streamId === 1).at(-1);
  assert.equal(last?.type, TYPE.HEADERS, 'the trailers come last');
  assert.deepEqual(
    c.decoder.decode(last.payload).map((f) => [f.name, f.value]),
    [['grpc-status', '0']],
  );
});

test('write() reports back-pressure while the window is shut, and drained() waits for it to open', async (t) => {
  let stream: H2Stream | undefined;
  const s = await serve(t, (x) => {
    stream = x;
    x.respond(OK, false);
  });
  const c = await RawClient.open(t, s.port, [[4, 0]]);
  c.send(encodeFrame(TYPE.HEADERS, END_HEADERS, 1, c.headerBlock('/bp')));
  await c.until((f) => f.some((x) => x.type === TYPE.HEADERS && x.streamId === 1));
  assert.ok(stream !== undefined);
  assert.equal(stream.write(Buffer.alloc(32 * 1024)), true, 'below the high-water mark');
  assert.equal(stream.write(Buffer.alloc(32 * 1024)), false, 'at the high-water mark');
  let drained = false;
  const wait = stream.drained().then(() => (drained = true));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(drained, false);
  // The connection window (65,535 by default) must open as well as the stream's.
  c.send(
    encodeFrame(TYPE.WINDOW_UPDATE, 0, 1, u32(64 * 1024)),
    encodeFrame(TYPE.WINDOW_UPDATE, 0, 0, u32(1024)),
  );
  await wait;
  await c.until(() => c.data(1).length === 64 * 1024);
});

test('header blocks split over CONTINUATION, padded HEADERS and DATA, and an HPACK table carried across requests', async (t) => {
  const s = await serve(t, echo);
  const c = await RawClient.open(t, s.port);
  const block = c.headerBlock('/split', [['x-meta', 'v'.repeat(300)]]);
  c.send(
    encodeFrame(TYPE.HEADERS, 0, 1, block.subarray(0, 10)),
    encodeFrame(TYPE.CONTINUATION, 0, 1, block.subarray(10, 20)),
    encodeFrame(TYPE.CONTINUATION, END_HEADERS, 1, block.subarray(20)),
    // Pad length 3, "abc", three bytes of padding.
    encodeFrame(TYPE.DATA, PADDED | END_STREAM, 1, Buffer.from([3, 0x61, 0x62, 0x63, 0, 0, 0])),
  );
  await c.until(endsStream(1));
  assert.equal(c.data(1).toString(), 'abc');
  // The same fields again: the client's encoder now sends them as dynamic-table indexes.
  const again = c.headerBlock('/split', [['x-meta', 'v'.repeat(300)]]);
  assert.ok(again.length < 20, 'the second block is indexes');
  const padded = Buffer.concat([Buffer.from([2]), again, Buffer.alloc(2)]);
  c.send(
    encodeFrame(TYPE.HEADERS, PADDED | END_HEADERS, 3, padded),
    encodeFrame(TYPE.DATA, END_STREAM, 3, Buffer.from('d')),
  );
  await c.until(endsStream(3));
  assert.equal(c.data(3).toString(), 'd');
  assert.deepEqual(
    s.streams.map((x) => [x.headers[':path'], x.headers['x-meta'].length]),
    [
      ['/split', 300],
      ['/split', 300],
    ],
  );
});

test('a client reset closes the stream; an answer before the request ended is followed by RST_STREAM NO_ERROR', async (t) => {
  let closes = 0;
  const s = await serve(t, (stream) => {
    stream.onClose(() => closes++);
    if (stream.headers[':path'] === '/early') stream.respond(Buffer.concat([OK, TRAILERS]), true);
  });
  const c = await RawClient.open(t, s.port);
  c.send(encodeFrame(TYPE.HEADERS, END_HEADERS, 1, c.headerBlock('/reset')));
  await c.until(() => s.streams.length === 1);
  c.send(encodeFrame(TYPE.RST_STREAM, 0, 1, u32(8)));
  c.send(encodeFrame(TYPE.HEADERS, END_HEADERS, 3, c.headerBlock('/early')));
  await c.until((f) => f.some((x) => x.type === TYPE.RST_STREAM && x.streamId === 3));
  const rst = c.frames.find((x) => x.type === TYPE.RST_STREAM && x.streamId === 3);
  assert.equal(rst?.payload.readUInt32BE(0), 0, 'NO_ERROR');
  assert.ok(endsStream(3)(c.frames), 'the trailers-only answer came first');
  assert.equal(closes, 2);
  assert.equal(s.streams[0].closed, true);
  // DATA the client sent before it saw the reset is dropped quietly; the connection goes on.
  c.send(encodeFrame(TYPE.DATA, END_STREAM, 3, Buffer.from('late')));
  c.send(encodeFrame(TYPE.PING, 0, 0, Buffer.from('12345678')));
  await c.until((f) => f.some((x) => x.type === TYPE.PING));
  const pong = c.frames.find((x) => x.type === TYPE.PING);
  assert.deepEqual([pong?.flags, pong?.payload.toString()], [1, '12345678']);
  assert.deepEqual(s.errors, []);
});

test('the server’s SETTINGS come first, and a client SETTINGS is acknowledged', async (t) => {
  const s = await serve(t, echo);
  const c = await RawClient.open(t, s.port);
  await c.until((f) => f.some((x) => x.type === TYPE.SETTINGS && x.flags === 1));
  assert.equal(c.frames[0].type, TYPE.SETTINGS);
  assert.equal(c.frames[0].flags, 0);
  const advertised = new Map<number, number>();
  for (let off = 0; off < c.frames[0].payload.length; off += 6) {
    advertised.set(c.frames[0].payload.readUInt16BE(off), c.frames[0].payload.readUInt32BE(off + 2));
  }
  assert.equal(advertised.get(2), 0, 'push off');
  assert.equal(advertised.get(4), 1 << 20, 'a 1 MiB stream window');
  const update = c.frames.find((x) => x.type === TYPE.WINDOW_UPDATE && x.streamId === 0);
  assert.equal(update?.payload.readUInt32BE(0), (1 << 24) - 65535, 'the connection window raised to 16 MiB');
});

const brokenCases: { name: string; frames: (c: RawClient) => Buffer[]; code: number; debug: RegExp }[] = [
  {
    name: 'DATA on stream 0',
    frames: () => [encodeFrame(TYPE.DATA, 0, 0, Buffer.from('x'))],
    code: 1,
    debug: /DATA on stream 0/,
  },
  {
    name: 'a frame larger than 16384 bytes',
    frames: () => [encodeFrame(TYPE.DATA, 0, 1, Buffer.alloc(16385))],
    code: 6,
    debug: /frame of 16385 bytes/,
  },
  {
    name: 'an even client stream',
    frames: (c) => [encodeFrame(TYPE.HEADERS, END_HEADERS, 2, c.headerBlock('/x'))],
    code: 1,
    debug: /stream 2 is even/,
  },
  {
    name: 'an undecodable header block',
    frames: () => [
      encodeFrame(TYPE.HEADERS, END_HEADERS, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x0f])),
    ],
    code: 9,
    debug: /hpack/,
  },
  {
    name: 'a frame between HEADERS and its CONTINUATION',
    frames: (c) => [
      encodeFrame(TYPE.HEADERS, 0, 1, c.headerBlock('/x').subarray(0, 3)),
      encodeFrame(TYPE.PING, 0, 0, Buffer.alloc(8)),
    ],
    code: 1,
    debug: /inside a header block/,
  },
  {
    name: 'a header block of 300 KiB',
    frames: (c) => [
      encodeFrame(TYPE.HEADERS, 0, 1, c.headerBlock('/x')),
      ...Array.from({ length: 20 }, () => encodeFrame(TYPE.CONTINUATION, 0, 1, Buffer.alloc(15 * 1024))),
    ],
    code: 11,
    debug: /header block too large/,
  },
  {
    name: 'endless empty CONTINUATION frames',
    frames: (c) => [
      encodeFrame(TYPE.HEADERS, 0, 1, c.headerBlock('/x')),
      ...Array.from({ length: 100 }, () => encodeFrame(TYPE.CONTINUATION, 0, 1)),
    ],
    code: 11,
    debug: /header block too large/,
  },
  {
    name: 'PUSH_PROMISE',
    frames: () => [encodeFrame(5, END_HEADERS, 1, Buffer.alloc(4))],
    code: 1,
    debug: /PUSH_PROMISE/,
  },
  {
    name: 'a connection window past 2^31-1',
    frames: () => [encodeFrame(TYPE.WINDOW_UPDATE, 0, 0, u32(2 ** 31 - 1))],
    code: 3,
    debug: /window too large/,
  },
  {
    name: 'a PING of 7 bytes',
    frames: () => [encodeFrame(TYPE.PING, 0, 0, Buffer.alloc(7))],
    code: 6,
    debug: /PING size/,
  },
];

for (const bc of brokenCases) {
  test(`a connection error (${bc.name}) closes the connection with GOAWAY and its code`, async (t) => {
    const s = await serve(t, echo);
    const c = await RawClient.open(t, s.port);
    c.send(...bc.frames(c));
    const { code, debug } = await c.closedWith();
    assert.equal(code, bc.code);
    assert.match(debug, bc.debug);
    assert.equal(s.errors.length, 1);
  });
}

test('a bad client preface closes the connection', async (t) => {
  const s = await serve(t, echo);
  const socket = connect(s.port, '127.0.0.1');
  t.after(() => void socket.destroy());
  socket.on('error', () => {});
  socket.resume();
  socket.write('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n');
  assert.ok(await closesWithin(socket, 5000), 'the server closes the connection');
  assert.match(s.errors[0]?.message ?? '', /preface/);
});

test('keepalive: a PING the client leaves unanswered closes the connection; an answered one does not', async (t) => {
  const s = await serve(t, echo, { keepaliveTimeMs: 30, keepaliveTimeoutMs: 100 });
  const answering = await RawClient.open(t, s.port);
  const silent = await RawClient.open(t, s.port);
  answering.socket.on('data', () => {
    for (const f of answering.frames.splice(0)) {
      if (f.type === TYPE.PING && f.flags === 0) answering.send(encodeFrame(TYPE.PING, 1, 0, f.payload));
    }
  });
  assert.ok(await closesWithin(silent.socket, 5000), 'the client that leaves its PING unanswered is cut off');
  assert.equal(answering.closed, false, 'the client that answers its PINGs keeps its connection');
});
