// put / get / del: cairnctl against etcdctl, byte for byte, in every output format.

import { test } from 'node:test';

import { Pair } from './harness.js';

test('put, get and del match etcdctl', async (t) => {
  const p = await Pair.start(t);
  await p.same(['put', 'foo', 'bar']);
  await p.same(['put', 'foo', 'bar2', '--prev-kv']);
  await p.same(['put', 'foo', 'bar3', '--prev-kv', '-w', 'json']);
  await p.same(['put', 'foo', 'bar4', '--prev-kv', '-w', 'fields']);
  await p.same(['put', 'quote', 'a "q" \\ é\t\x01']);
  await p.same(['put', 'stdin-key'], { stdin: 'from stdin\n' });
  await p.same(['put', '--', 'dash', '-v']);
  await p.same(['put', 'foo', '--ignore-value']);
  for (let i = 0; i < 5; i++) await p.same(['put', `dir/k${i}`, `v${4 - i}`]);
  for (const format of ['simple', 'json', 'fields']) {
    await p.same(['get', 'foo', '-w', format]);
    await p.same(['get', 'dir/', '--prefix', '-w', format]);
  }
  // Binary output embeds the server's IDs: compare both tools against the same server.
  await p.sameServer(['get', 'dir/', '--prefix', '-w', 'protobuf']);
  await p.same(['get', 'quote', '-w', 'fields']);
  await p.same(['get', 'quote', '-w', 'json']);
  await p.same(['get', 'quote', '--hex']);
  await p.same(['get', 'dir/', '--prefix', '--limit=2', '-w', 'json']);
  await p.same(['get', 'dir/', '--prefix', '--sort-by=VALUE', '--order=DESCEND']);
  await p.same(['get', 'dir/', '--prefix', '--sort-by=create', '--order=ascend']);
  await p.same(['get', 'dir/', '--prefix', '--keys-only']);
  await p.same(['get', 'dir/', '--prefix', '--print-value-only']);
  await p.same(['get', 'dir/k1', 'dir/k3']);
  await p.same(['get', 'dir/k3', '--from-key', '--consistency=s']);
  await p.same(['get', '', '--prefix', '--keys-only']);
  await p.same(['get', 'foo', '--rev=2', '-w', 'json']);
  await p.same(['get', 'nothing-here']);
  await p.same(['get', 'nothing-here', '-w', 'json']);
  // errors and their exit codes
  await p.same(['get']);
  await p.same(['put']);
  await p.same(['put', 'x']);
  await p.same(['put', '', 'v']);
  await p.same(['put', 'k', 'v', '--lease=zz']);
  await p.same(['put', 'k', 'v', '--lease=123']);
  await p.same(['get', 'foo', '--rev=1000']);
  await p.same(['get', 'foo', '--prefix', '--from-key']);
  await p.same(['get', 'foo', 'bar', '--prefix']);
  await p.same(['get', 'foo', '--consistency=x']);
  await p.same(['get', 'foo', '--order=x']);
  await p.same(['get', 'foo', '--sort-by=x']);
  await p.same(['get', 'foo', '--print-value-only', '-w', 'json']);
  await p.same(['get', 'foo', '-w', 'table']);
  await p.same(['get', 'foo', '-w', 'yaml']);
  await p.same(['get', 'foo', '--rev=abc'], { ignoreStdout: true });
  await p.same(['get', 'foo', '--bogus'], { ignoreStdout: true });
  await p.same(['del']);
  await p.same(['del', 'a', 'b', 'c']);
  await p.same(['del', 'nothing']);
  await p.same(['del', 'dir/k0', '--prev-kv']);
  await p.same(['del', 'dir/', '--prefix', '--prev-kv', '-w', 'json']);
  await p.same(['del', 'quote', '-w', 'fields']);
  await p.same(['del', '', '--from-key']);
});

test('global flags and ETCDCTL_* variables match etcdctl', async (t) => {
  const p = await Pair.start(t);
  await p.same(['put', 'e', 'v']);
  await p.same(['get', 'e'], {
    noEndpoint: true,
    env: { ETCDCTL_ENDPOINTS: '@EP@', ETCDCTL_WRITE_OUT: 'fields' },
  });
  await p.same(['get', 'e'], { env: { ETCDCTL_FOO: '1' } });
  await p.same(['get', 'e'], { env: { ETCDCTL_ENDPOINTS: '127.0.0.1:1' } });
  await p.same(['get', 'e'], { env: { ETCDCTL_DIAL_TIMEOUT: 'bogus', ETCDCTL_COMMAND_TIMEOUT: '3s' } });
  await p.same(['--endpoints=http://@EP@', '--command-timeout=3s', '-w', 'json', 'get', 'e', '--hex']);
  await p.same(['g', 'e']); // unique command prefixes
  await p.same(['version']);
});
