import { test } from 'node:test';
import assert from 'node:assert/strict';

import { formatId } from '../../../src/membership/ids.js';
import {
  InitialClusterError,
  bootstrapNewCluster,
  bootstrapPeers,
  formatInitialCluster,
  joinExistingCluster,
  parseInitialCluster,
  remotePeerUrls,
  type BootstrapOptions,
} from '../../../src/membership/initial-cluster.js';
import { decodeMember, makeMember } from '../../../src/membership/member.js';

function fails(options: BootstrapOptions, message: string): void {
  assert.throws(
    () => bootstrapNewCluster(options),
    (e: unknown) => e instanceof InitialClusterError && e.message === message,
    message,
  );
}

const opts = (
  name: string,
  initialCluster: string,
  advertise: string,
  token = 'etcd-cluster',
): BootstrapOptions => ({
  name,
  initialCluster,
  token,
  advertisePeerUrls: advertise.split(','),
});

test('parses name=url pairs; a repeated name collects URLs; empty items are skipped', () => {
  assert.deepEqual(
    parseInitialCluster('a=http://10.0.0.1:2380,,b=http://10.0.0.2:2380,a=http://10.0.0.0:2380,'),
    [
      { name: 'a', peerUrls: ['http://10.0.0.0:2380', 'http://10.0.0.1:2380'] },
      { name: 'b', peerUrls: ['http://10.0.0.2:2380'] },
    ],
  );
  assert.deepEqual(parseInitialCluster(''), []);
  assert.equal(
    formatInitialCluster(
      parseInitialCluster('n3=http://127.0.0.1:3,n1=http://127.0.0.1:1,n3=http://127.0.0.1:1'),
    ),
    'n1=http://127.0.0.1:1,n3=http://127.0.0.1:1,n3=http://127.0.0.1:3',
  );
});

test('the default single-member cluster gets the reference IDs', () => {
  const c = bootstrapNewCluster(opts('default', 'default=http://localhost:2380', 'http://localhost:2380'));
  assert.equal(formatId(c.localId), '8e9e05c52164694d');
  assert.equal(formatId(c.clusterId), 'cdf818194e3a8c32');
  assert.deepEqual(c.members, [
    makeMember({ id: 0x8e9e05c52164694dn, name: 'default', peerUrls: ['http://localhost:2380'] }),
  ]);
});

test('a three-member cluster with a two-URL member gets the IDs real etcd logged', () => {
  const c = bootstrapNewCluster(
    opts(
      'b',
      'a=http://127.0.0.1:45401,b=http://127.0.0.1:45392,c=http://127.0.0.1:45402,b=http://127.0.0.1:45393',
      'http://127.0.0.1:45392,http://127.0.0.1:45393',
      'tk',
    ),
  );
  assert.equal(formatId(c.localId), '428c885b224d5490');
  assert.equal(formatId(c.clusterId), '5d48a3cbd194315');
  assert.deepEqual(
    c.members.map((m) => [formatId(m.id), m.name]),
    [
      ['223cb54b6aee65df', 'a'],
      ['428c885b224d5490', 'b'],
      ['e049406bf9a9a27a', 'c'],
    ],
  );
  const peers = bootstrapPeers(c.members);
  assert.deepEqual(
    peers.map((p) => p.id),
    c.members.map((m) => m.id),
  );
  assert.deepEqual(decodeMember(peers[1].context), c.members[1]);
});

// Every text below was printed by etcd 3.4.23 (`C | etcdmain: <text>`, or with --logger=zap
// `"msg":"discovery failed","error":"<text>"`) before it exited with status 1.
test('this member missing from --initial-cluster', () => {
  fails(
    opts('default', 'other=http://127.0.0.1:2380', 'http://127.0.0.1:2380'),
    `couldn't find local name "default" in the initial cluster configuration`,
  );
  fails(
    opts('n1', '', 'http://127.0.0.1:2380'),
    `couldn't find local name "n1" in the initial cluster configuration`,
  );
});

test('--initial-advertise-peer-urls not matching this member', () => {
  fails(
    opts('n1', 'n1=http://127.0.0.1:2381', 'http://127.0.0.1:2380'),
    '--initial-cluster has n1=http://127.0.0.1:2381 but missing from --initial-advertise-peer-urls=http://127.0.0.1:2380 ' +
      '(resolved urls: "http://127.0.0.1:2380" != "http://127.0.0.1:2381")',
  );
  fails(
    opts('default', 'default=http://localhost:2380', ' http://127.0.0.1:2380'),
    '--initial-cluster has default=http://localhost:2380 but missing from --initial-advertise-peer-urls=http://127.0.0.1:2380 ' +
      '(resolved urls: "http://127.0.0.1:2380" != "http://localhost:2380")',
  );
  fails(
    opts('default', 'default=http://127.0.0.9:9', 'http://h:1,http://a:2'),
    '--initial-cluster has default=http://127.0.0.9:9 but missing from --initial-advertise-peer-urls=http://a:2,http://h:1 ' +
      '(len(["http://a:2" "http://h:1"]) != len(["http://127.0.0.9:9"]))',
  );
  fails(
    opts('n1', 'n1=http://127.0.0.1:2380,n1=http://127.0.0.1:2382', 'http://127.0.0.1:2380'),
    '--initial-cluster has n1=http://127.0.0.1:2382 but missing from --initial-advertise-peer-urls=http://127.0.0.1:2380 ' +
      '(len(["http://127.0.0.1:2380"]) != len(["http://127.0.0.1:2380" "http://127.0.0.1:2382"]))',
  );
  // etcd names the advertised URLs as the --initial-cluster it expected.
  fails(
    opts('n1', 'n1=http://127.0.0.1:2380', 'http://127.0.0.1:2380,http://127.0.0.1:2382'),
    '--initial-advertise-peer-urls has http://127.0.0.1:2382 but missing from ' +
      '--initial-cluster=n1=http://127.0.0.1:2380,n1=http://127.0.0.1:2382',
  );
  fails(
    opts(
      'n1',
      'n1=http://127.0.0.1:1,n1=http://127.0.0.1:2,n1=http://127.0.0.1:2',
      'http://127.0.0.1:1,http://127.0.0.1:1,http://127.0.0.1:2',
    ),
    'failed to resolve http://127.0.0.1:1,http://127.0.0.1:1,http://127.0.0.1:2 to match ' +
      '--initial-cluster=n1=http://127.0.0.1:1,n1=http://127.0.0.1:1,n1=http://127.0.0.1:2 ' +
      '(resolved urls: "http://127.0.0.1:1" != "http://127.0.0.1:2")',
  );
});

test('URLs compare in normalised form, in any order', () => {
  const c = bootstrapNewCluster(
    opts('n1', 'n1=HTTP://127.0.0.1:2,n1=http://127.0.0.1:1', 'http://127.0.0.1:2, http://127.0.0.1:1'),
  );
  assert.deepEqual(c.members[0].peerUrls, ['http://127.0.0.1:1', 'http://127.0.0.1:2']);
});

test('a resolver maps host names before comparing (never IPs or localhost)', () => {
  const resolve = (h: string): string | undefined => (h === 'node1.example' ? '10.0.0.1' : undefined);
  const c = bootstrapNewCluster({
    ...opts('n1', 'n1=http://10.0.0.1:2380', 'http://node1.example:2380'),
    resolve,
  });
  // The member keeps the --initial-cluster URLs (what the ID hashes).
  assert.deepEqual(c.members[0].peerUrls, ['http://10.0.0.1:2380']);
  fails(
    { ...opts('n1', 'n1=http://10.0.0.1:2380', 'http://other.example:2380'), resolve },
    '--initial-cluster has n1=http://10.0.0.1:2380 but missing from --initial-advertise-peer-urls=http://other.example:2380 ' +
      '(resolved urls: "http://other.example:2380" != "http://10.0.0.1:2380")',
  );
});

test('duplicate URLs across members', () => {
  fails(
    opts('n1', 'n1=http://127.0.0.1:2380,n2=http://127.0.0.1:2380', 'http://127.0.0.1:2380'),
    'initial cluster n1=http://127.0.0.1:2380,n2=http://127.0.0.1:2380 has duplicate url',
  );
  fails(
    opts(
      'n1',
      'n1=http://127.0.0.1:1,n1=http://127.0.0.1:2,n2=http://127.0.0.1:3,n3=http://127.0.0.1:3,n3=http://127.0.0.1:1',
      'http://127.0.0.1:1,http://127.0.0.1:2',
    ),
    'initial cluster n1=http://127.0.0.1:1,n1=http://127.0.0.1:2,n2=http://127.0.0.1:3,n3=http://127.0.0.1:1,' +
      'n3=http://127.0.0.1:3 has duplicate url',
  );
});

test('malformed entries', () => {
  fails(
    opts('n1', 'n1=http://127.0.0.1:2380,n2=', 'http://127.0.0.1:2380'),
    'error setting up initial cluster: URL scheme must be http, https, unix, or unixs: ',
  );
  fails(
    opts('n1', 'n1=http://127.0.0.1:2380,n2', 'http://127.0.0.1:2380'),
    'error setting up initial cluster: URL scheme must be http, https, unix, or unixs: ',
  );
  fails(
    opts('n1', 'n1=http://127.0.0.1:2380,n2=ftp://x:1', 'http://127.0.0.1:2380'),
    'error setting up initial cluster: URL scheme must be http, https, unix, or unixs: ftp://x:1',
  );
  fails(
    opts('n1', 'n1=http://127.0.0.1:2380/x', 'http://127.0.0.1:2380'),
    'error setting up initial cluster: URL must not contain a path: http://127.0.0.1:2380/x',
  );
});

test('members whose URLs concatenate alike would share an ID', () => {
  // Distinct URL lists (so no duplicate URL) with the same concatenation: etcd refuses them.
  assert.throws(
    () =>
      bootstrapNewCluster(
        opts('a', 'a=http://x:1?http://y:2,b=http://x:1?,b=http://y:2', 'http://x:1?http://y:2'),
      ),
    (e: unknown) =>
      e instanceof InitialClusterError && e.message.startsWith('member exists with identical ID '),
  );
});

test('joining an existing cluster takes the IDs the cluster reports', () => {
  const options = opts('n2', 'n1=http://127.0.0.1:45292,n2=http://127.0.0.1:45293', 'http://127.0.0.1:45293');
  assert.deepEqual(remotePeerUrls(options), ['http://127.0.0.1:45292']);
  const existing = {
    clusterId: 0x284fcd91e5a9deban,
    members: [
      makeMember({
        id: 0xbfa1a994ee0d73f4n,
        name: 'n1',
        peerUrls: ['http://127.0.0.1:45292'],
        clientUrls: ['http://127.0.0.1:45291'],
      }),
      makeMember({ id: 0xd19ab5f32ce3f080n, peerUrls: ['http://127.0.0.1:45293'], isLearner: true }),
    ],
  };
  const joined = joinExistingCluster(options, existing);
  assert.equal(joined.clusterId, 0x284fcd91e5a9deban);
  assert.equal(formatId(joined.localId), 'd19ab5f32ce3f080');
  assert.deepEqual(
    joined.members.map((m) => [formatId(m.id), m.name]),
    [
      ['bfa1a994ee0d73f4', 'n1'],
      ['d19ab5f32ce3f080', 'n2'],
    ],
  );
  // Observed from etcd 3.4.23 joining with --initial-cluster-state existing and a third, unknown member.
  const three = opts(
    'n2',
    'n1=http://127.0.0.1:45292,n2=http://127.0.0.1:45392,n3=http://127.0.0.1:45393',
    'http://127.0.0.1:45392',
  );
  assert.throws(
    () => joinExistingCluster(three, { ...existing, members: existing.members.slice(0, 1) }),
    (e: unknown) =>
      e instanceof InitialClusterError &&
      e.message ===
        'error validating peerURLs {ClusterID:284fcd91e5a9deba Members:[&{ID:bfa1a994ee0d73f4 ' +
          'RaftAttributes:{PeerURLs:[http://127.0.0.1:45292] IsLearner:false} ' +
          'Attributes:{Name:n1 ClientURLs:[http://127.0.0.1:45291]}}] RemovedMemberIDs:[]}: member count is unequal',
  );
  assert.throws(
    () =>
      joinExistingCluster(options, {
        ...existing,
        members: [existing.members[0], makeMember({ id: 9n, peerUrls: ['http://127.0.0.1:9'] })],
      }),
    (e: unknown) =>
      e instanceof InitialClusterError &&
      e.message.includes('PeerURLs: no match found for existing member (9, [http://127.0.0.1:9])'),
  );
});
