// txn from stdin (and with -i prompts): cairnctl against etcdctl.

import { test } from 'node:test';

import { Pair } from './harness.js';

test('txn matches etcdctl', async (t) => {
  const p = await Pair.start(t);
  await p.same(['put', 'foo', 'bar']);
  await p.same(['put', 'c', 'cc']);
  const txn = 'mod("foo") > "0"\nval("foo") = "bar"\n\nput a 1\nget foo\ndel c --prev-kv\n\nput b 2\n\n';
  for (const format of ['simple', 'json', 'fields']) await p.same(['txn', '-w', format], { stdin: txn });
  await p.same(['txn', '-i'], { stdin: txn });
  await p.same(['txn'], {
    stdin:
      'ver("foo") = "7"\nc("foo") != "2"\n\nput x 1\n\nput "y z" "quoted \\"v\\""\nget "" --prefix --keys-only\n\n',
  });
  await p.same(['txn', '-w', 'json'], { stdin: 'value("nokey") = "x"\n\n\nget foo\n\n' });
  await p.same(['txn'], { stdin: '\nput a 1\ndel a\n\n\n' }); // duplicate key: server error
  await p.same(['txn'], { stdin: 'bad\n' });
  await p.same(['txn'], { stdin: 'val("x") = "y"' });
  await p.same(['txn'], { stdin: 'ver("a") = "x"\n\n\n\n' });
  await p.same(['txn'], { stdin: 'val("x") = y\n\n\n\n' });
  await p.same(['txn'], { stdin: 'foo("x") = "y"\n\n\n\n' });
  await p.same(['txn'], { stdin: '\nfoo bar\n\n' });
  await p.same(['txn'], { stdin: '\nput\n\n' });
  await p.same(['txn'], { stdin: '\nput a\n\n' });
  await p.same(['txn', 'extra'], { stdin: '' });
});
