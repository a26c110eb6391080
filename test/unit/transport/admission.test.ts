import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { after, describe, it } from 'node:test';
import {
  CLUSTER,
  heartbeat,
  newTransport,
  startServer,
  waitFor,
  type TestServer,
  type TestTransport,
} from './helpers.js';
import type { TransportOptions } from '../../../src/transport/transport.js';
import type { PeerServerOptions } from '../../../src/transport/peer-server.js';

const A = 0xaan;
const B = 0xbbn;

interface Answer {
  readonly status: number;
  readonly headers: http2.IncomingHttpHeaders;
  readonly body: string;
}

async function h2request(
  url: string,
  headers: http2.OutgoingHttpHeaders,
  body?: Uint8Array,
): Promise<Answer> {
  const session = http2.connect(url);
  try {
    return await new Promise<Answer>((resolve, reject) => {
      session.on('error', reject);
      const req = session.request(headers);
      let text = '';
      let got: http2.IncomingHttpHeaders = {};
      req.setEncoding('utf8');
      req.on('response', (h) => (got = h));
      req.on('data', (d: string) => (text += d));
      req.on('end', () => resolve({ status: Number(got[':status']), headers: got, body: text }));
      req.on('error', reject);
      req.end(body);
    });
  } finally {
    session.destroy();
  }
}

async function h1get(url: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url + path, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      })
      .on('error', reject);
  });
}

/**
 * A raft stream request made by hand: POST /raft/stream asking to upgrade. Resolves with the refusal
 * (status, headers, body), or with 101 once upgraded, after writing `body` on the upgraded socket.
 */
async function upgradeRequest(
  url: string,
  headers: Record<string, string>,
  options: { method?: string; body?: Uint8Array } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname,
      port: u.port,
      method: options.method ?? 'POST',
      path: '/raft/stream',
      headers: { connection: 'Upgrade', upgrade: 'cairn-raft', ...headers },
    });
    req.on('error', reject);
    req.on('upgrade', (res, socket) => {
      socket.on('error', () => {});
      if (options.body !== undefined) socket.write(options.body);
      // The server answers a bad frame by closing; a good stream is closed here.
      if (options.body === undefined) socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.end();
  });
}

function streamHeaders(over: Record<string, string> = {}): Record<string, string> {
  return {
    'x-cairn-protocol': '2',
    'x-cairn-cluster-id': CLUSTER.toString(16),
    'x-cairn-from': A.toString(16),
    'x-cairn-to': B.toString(16),
    ...over,
  };
}

describe('admission and peer endpoints', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });
  async function server(id: bigint, over: Partial<PeerServerOptions> = {}): Promise<TestServer> {
    const s = await startServer(id, over);
    cleanup.push(() => s.server.close());
    return s;
  }
  function transport(id: bigint, over: Partial<TransportOptions> = {}): TestTransport {
    const t = newTransport(id, over);
    cleanup.push(() => t.transport.close());
    return t;
  }

  it('refuses a sender from another cluster and logs "cluster ID mismatch" with both IDs', async () => {
    const b = await server(B);
    const a = transport(A, { clusterId: 0xdeadbeefn });
    a.transport.addPeer(B, [b.url]);
    a.transport.send([heartbeat(A, B, 1)]);
    await waitFor(() => b.logger.lines.some((l) => l.msg.includes('cluster ID mismatch')), 'the warning');
    const line = b.logger.lines.find((l) => l.msg.includes('cluster ID mismatch'));
    assert.equal(line?.level, 'warn');
    assert.ok(line?.msg.includes(CLUSTER.toString(16)) && line.msg.includes('deadbeef'), line?.msg);
    await waitFor(() => a.rec.unreachable.length > 0, 'sender reports unreachable');
    await waitFor(
      () => a.logger.lines.some((l) => String(l.fields?.reason).includes('cluster ID mismatch')),
      'sender logs the reason',
    );
    assert.equal(b.rec.messages.length, 0);
    assert.equal(a.transport.activeSince(B), undefined);
    assert.equal(a.rec.removed, 0);

    const raw = await upgradeRequest(b.url, streamHeaders({ 'x-cairn-cluster-id': 'deadbeef' }));
    assert.equal(raw.status, 412);
    assert.equal(raw.headers['x-cairn-reason'], 'cluster ID mismatch');
  });

  it('refuses a stream meant for another member', async () => {
    const b = await server(B);
    const a = transport(A);
    // A believes member 0xcc lives at B's URL.
    a.transport.addPeer(0xccn, [b.url]);
    a.transport.send([heartbeat(A, 0xccn, 1)]);
    await waitFor(() => a.rec.unreachable.includes(0xccn), 'unreachable');
    assert.equal(b.rec.messages.length, 0);
    assert.ok(b.logger.lines.some((l) => l.level === 'warn' && l.msg === 'peer request for another member'));
    const raw = await upgradeRequest(b.url, streamHeaders({ 'x-cairn-to': 'cc' }));
    assert.equal(raw.status, 412);
    assert.equal(raw.headers['x-cairn-reason'], 'receiver ID mismatch');
  });

  it('refuses a removed sender with 410 and tells it (onRemoved fires once)', async () => {
    const b = await server(B, { isRemoved: (id) => id === A });
    const b2 = await server(0xb2n, { isRemoved: (id) => id === A });
    const a = transport(A);
    a.transport.addPeer(B, [b.url]);
    a.transport.addPeer(0xb2n, [b2.url]);
    a.transport.send([heartbeat(A, B, 1)]);
    await waitFor(() => a.rec.removed > 0, 'onRemoved');
    await waitFor(() => a.transport.peerStats(0xb2n)?.state === 'removed', 'second peer refused too');
    assert.equal(a.rec.removed, 1);
    assert.equal(a.transport.peerStats(B)?.state, 'removed');
    assert.equal(b.rec.messages.length, 0);
    const raw = await upgradeRequest(b.url, streamHeaders());
    assert.equal(raw.status, 410);
    assert.equal(raw.body, 'member removed\n');
  });

  it('closes the streams of a member once it is removed; its reconnect is refused', async () => {
    let removed = false;
    const b = await server(B, { isRemoved: () => removed });
    const a = transport(A);
    a.transport.addPeer(B, [b.url]);
    a.transport.send([heartbeat(A, B, 1)]);
    await waitFor(() => b.rec.messages.length === 1, 'delivery');
    removed = true;
    assert.equal(b.server.disconnect(A), 1);
    await waitFor(() => a.rec.removed === 1, 'onRemoved after reconnect');
  });

  it('admits a sender it does not know yet and reports its URLs', async () => {
    const unknown: { id: bigint; urls: readonly string[] }[] = [];
    const b = await server(B, {
      isKnownPeer: () => false,
      onUnknownSender: (id, urls) => unknown.push({ id, urls }),
    });
    const a = transport(A, { advertiseUrls: ['http://127.0.0.1:12380', 'http://10.0.0.1:2380'] });
    a.transport.addPeer(B, [b.url]);
    a.transport.send([heartbeat(A, B, 1)]);
    await waitFor(() => b.rec.messages.length === 1, 'delivery');
    assert.deepEqual(unknown, [{ id: A, urls: ['http://127.0.0.1:12380', 'http://10.0.0.1:2380'] }]);
  });

  it('refuses malformed headers, wrong protocol versions, wrong methods', async () => {
    const b = await server(B);
    assert.equal((await upgradeRequest(b.url, streamHeaders({ 'x-cairn-from': 'zz' }))).status, 400);
    assert.equal((await upgradeRequest(b.url, streamHeaders({ 'x-cairn-to': '' }))).status, 400);
    const v = await upgradeRequest(b.url, streamHeaders({ 'x-cairn-protocol': '99' }));
    assert.equal(v.status, 412);
    assert.equal(v.headers['x-cairn-reason'], 'protocol version mismatch');
    assert.equal((await upgradeRequest(b.url, streamHeaders({ upgrade: 'websocket' }))).status, 400);
    assert.equal((await upgradeRequest(b.url, streamHeaders(), { method: 'GET' })).status, 405);
    assert.equal((await upgradeRequest(b.url, streamHeaders())).status, 101);
    // The stream is an upgrade only: over HTTP/2 it is refused, and so is a plain HTTP/1.1 request.
    const h2 = await h2request(b.url, { ':method': 'POST', ':path': '/raft/stream', ...streamHeaders() });
    assert.equal(h2.status, 400);
    assert.match(h2.body, /Upgrade: cairn-raft/);
    assert.equal((await h2request(b.url, { ':method': 'GET', ':path': '/raft/stream' })).status, 405);
    assert.equal((await h2request(b.url, { ':method': 'POST', ':path': '/members' })).status, 405);
  });

  it('drops a stream that sends garbage, and keeps serving', async () => {
    const b = await server(B);
    const garbage = Buffer.from([0, 0, 0, 3, 0xff, 0xff, 0xff]);
    const upgraded = await upgradeRequest(b.url, streamHeaders(), { body: garbage });
    assert.equal(upgraded.status, 101);
    await waitFor(() => b.logger.lines.some((l) => l.msg === 'dropping a malformed raft stream'), 'logged');
    const a = transport(A);
    a.transport.addPeer(B, [b.url]);
    a.transport.send([heartbeat(A, B, 1)]);
    await waitFor(() => b.rec.messages.length === 1, 'delivery after garbage');
  });

  it('serves /members and /version over HTTP/2 and HTTP/1.1, 404 elsewhere', async () => {
    const members = '[{"id":"aa","peerURLs":["http://127.0.0.1:2380"]}]';
    const version = '{"etcdserver":"3.4.0","etcdcluster":"3.4.0"}';
    const b = await server(B, { membersJson: () => members, versionJson: () => version });

    const m2 = await h2request(b.url, { ':method': 'GET', ':path': '/members' });
    assert.equal(m2.status, 200);
    assert.equal(m2.headers['content-type'], 'application/json');
    assert.equal(m2.body, members);
    const v2 = await h2request(b.url, { ':method': 'GET', ':path': '/version' });
    assert.deepEqual(JSON.parse(v2.body), { etcdserver: '3.4.0', etcdcluster: '3.4.0' });
    assert.equal((await h2request(b.url, { ':method': 'GET', ':path': '/nope' })).status, 404);

    assert.deepEqual(await h1get(b.url, '/members'), { status: 200, body: members });
    assert.deepEqual(await h1get(b.url, '/version'), { status: 200, body: version });
    assert.equal((await h1get(b.url, '/nope')).status, 404);
    assert.equal((await h1get(b.url, '/raft/stream')).status, 400);
  });

  it('answers 500 when a provider throws', async () => {
    const b = await server(B, {
      membersJson: () => {
        throw new Error('not ready');
      },
    });
    const r = await h2request(b.url, { ':method': 'GET', ':path': '/members' });
    assert.equal(r.status, 500);
  });
});
