// lease grant / revoke / timetolive / list / keep-alive --once: cairnctl against etcdctl.

import { test } from 'node:test';

import { Pair } from './harness.js';

test('lease commands match etcdctl', async (t) => {
  const p = await Pair.start(t);
  // Lease IDs come from each server's clock: grant on both sides, then map B's ID to A's.
  const ids: bigint[] = [];
  for (const format of ['simple', 'json', 'fields']) {
    const [a, b] = await p.grantBoth('100', format);
    p.aliasId(b, a);
    ids.push(a);
  }
  const id = ids[0].toString(16);
  await p.same(['put', 'lk', 'v', `--lease=${id}`]);
  await p.same(['get', 'lk', '-w', 'json']);
  await p.same(['lease', 'timetolive', id, '--keys'], { maskTtl: true });
  await p.same(['lease', 'timetolive', id, '--keys', '-w', 'json'], { maskTtl: true });
  await p.same(['lease', 'timetolive', id, '-w', 'fields'], { maskTtl: true });
  await p.same(['lease', 'keep-alive', '--once', id]);
  await p.same(['lease', 'keep-alive', '--once', id, '-w', 'json']);
  await p.same(['lease', 'keep-alive', '--once', '1234']);
  await p.same(['lease', 'timetolive', '1234']);
  await p.same(['lease', 'timetolive', '1234', '-w', 'json']);
  await p.same(['lease', 'revoke', id, '-w', 'json']);
  await p.same(['lease', 'revoke', id]);
  await p.same(['get', 'lk']);
  await p.same(['lease', 'revoke', ids[1].toString(16)]);
  // One lease left: the server lists leases in map order, so only a single one compares reliably.
  await p.same(['lease', 'list']);
  await p.same(['lease', 'list', '-w', 'json']);
  await p.same(['lease', 'list', '-w', 'fields']);
  await p.same(['lease', 'grant', 'abc']);
  await p.same(['lease', 'grant']);
  await p.same(['lease', 'grant', '9000000001']);
  await p.same(['lease', 'revoke', 'zz']);
  await p.same(['lease', 'timetolive']);
  await p.same(['lease', 'keep-alive']);
  await p.same(['lease', 'grant', '10', '-w', 'table']);
});
