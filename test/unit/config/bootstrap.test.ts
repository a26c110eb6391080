// Bootstrap checks on --initial-cluster (etcd's VerifyBootstrap / VerifyJoinExisting texts).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseInitialCluster, parseServerConfig, verifyBootstrap } from '../../../src/config/index.js';
import type { ServerConfig } from '../../../src/config/index.js';

function config(argv: readonly string[]): ServerConfig {
  const r = parseServerConfig(argv, {});
  if (r.kind !== 'config') assert.fail(JSON.stringify(r));
  return r.config;
}
const P = ['--initial-advertise-peer-urls', 'http://127.0.0.1:23801'];

describe('initial cluster', () => {
  test('parses name=url lists, grouping repeated names and sorting their URLs', () => {
    assert.deepEqual(parseInitialCluster('a=http://h:2,b=http://h:3,a=http://h:1'), {
      ok: true,
      members: [
        { name: 'a', peerUrls: ['http://h:1', 'http://h:2'] },
        { name: 'b', peerUrls: ['http://h:3'] },
      ],
    });
    assert.deepEqual(parseInitialCluster('a=127.0.0.1:23801'), {
      ok: false,
      error:
        'error setting up initial cluster: parse "127.0.0.1:23801": first path segment in URL cannot contain colon',
    });
  });

  test('the defaults bootstrap', () => {
    assert.equal(verifyBootstrap(config([])), undefined);
    assert.equal(verifyBootstrap(config(['--name', 'n1'])), undefined);
  });

  test('etcd texts for each refusal', () => {
    assert.equal(
      verifyBootstrap(config(['--name=', ...P])),
      'couldn\'t find local name "" in the initial cluster configuration',
    );
    assert.equal(
      verifyBootstrap(config(['--name=foo', ...P, '--initial-cluster', 'bar=http://127.0.0.1:23801'])),
      'couldn\'t find local name "foo" in the initial cluster configuration',
    );
    assert.equal(
      verifyBootstrap(config([...P, '--initial-cluster', 'default=http://127.0.0.1:23802'])),
      '--initial-cluster has default=http://127.0.0.1:23802 but missing from --initial-advertise-peer-urls=http://127.0.0.1:23801 (resolved urls: "http://127.0.0.1:23801" != "http://127.0.0.1:23802")',
    );
    assert.equal(
      verifyBootstrap(
        config([...P, '--initial-cluster', 'default=http://127.0.0.1:23801,b=http://127.0.0.1:23801']),
      ),
      'initial cluster b=http://127.0.0.1:23801,default=http://127.0.0.1:23801 has duplicate url',
    );
  });

  test('joining an existing cluster does not compare advertised URLs', () => {
    const c = config([
      ...P,
      '--initial-cluster',
      'default=http://127.0.0.1:9',
      '--initial-cluster-state',
      'existing',
    ]);
    assert.equal(verifyBootstrap(c), undefined);
  });
});
