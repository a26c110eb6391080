// watch: history replay from a revision (deterministic: all events exist before the watch starts),
// the exec form, and the server canceling a watch on a compacted revision.

import { spawn } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { CAIRNCTL, ETCDCTL, maskNoise, Pair, runTool } from './harness.js';

/** Runs a watch until its stdout contains `until`, then kills it (by pid); returns what it printed. */
function watchUntil(bin: string, args: readonly string[], until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ETCDCTL_API: '3', TZ: 'UTC' };
    const child = spawn(bin, [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`watch did not print ${until} in time: ${out}`));
    }, 15_000);
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (until.test(out)) {
        clearTimeout(timer);
        child.kill('SIGKILL');
        resolve(out);
      }
    });
    child.stderr.resume();
  });
}

test('watch matches etcdctl', async (t) => {
  const p = await Pair.start(t);
  await p.same(['put', 'w', '1']);
  await p.same(['put', 'w/x', '2 "q"']);
  await p.same(['put', 'w', '3']);
  await p.same(['del', 'w']);
  await p.same(['txn'], { stdin: '\nput w a\nput w2 b\n\n\n' });
  await p.same(['put', 'w/end', 'END']);

  const cases: [string[], RegExp][] = [
    [['watch', 'w', '--prefix', '--rev=2', '--prev-kv'], /END\n/],
    [['watch', 'w', '--rev=2'], /\na\n/],
    [['watch', 'w', 'w3', '--rev=2', '-w', 'json'], /RU5E|"mod_revision":7/],
    [['watch', '--prefix', 'w', '--rev=2', '-w', 'fields'], /"END"/],
    [['watch', 'w/', '--prefix', '--rev=1', '--hex'], /\\x45\\x4e\\x44\n/],
  ];
  for (const [args, until] of cases) {
    const [a, b] = await Promise.all([
      watchUntil(ETCDCTL, [`--endpoints=127.0.0.1:${p.a.clientPort}`, ...args], until),
      watchUntil(CAIRNCTL, [`--endpoints=127.0.0.1:${p.b.clientPort}`, ...args], until),
    ]);
    assert.equal(p.normaliseOutput(b), maskNoise(a), args.join(' '));
  }

  // The exec form: one command per event, with the event in ETCD_WATCH_* variables.
  const exec = [
    'watch',
    'w',
    '--rev=2',
    '--',
    'sh',
    '-c',
    'echo "T=$ETCD_WATCH_EVENT_TYPE K=$ETCD_WATCH_KEY V=$ETCD_WATCH_VALUE R=$ETCD_WATCH_REVISION"',
  ];
  const [a, b] = await Promise.all([
    watchUntil(ETCDCTL, [`--endpoints=127.0.0.1:${p.a.clientPort}`, ...exec], /V="a" R=\d+\n/),
    watchUntil(CAIRNCTL, [`--endpoints=127.0.0.1:${p.b.clientPort}`, ...exec], /V="a" R=\d+\n/),
  ]);
  assert.equal(b, a);

  // Argument errors.
  await p.same(['watch']);
  await p.same(['watch', 'a', 'b', '--prefix']);
  await p.same(['watch', 'a', '--']);

  // A watch from a compacted revision is canceled by the server: message, then exit 5.
  await p.same(['compaction', '5']);
  await p.same(['watch', 'w', '--rev=2']);
  await p.same(['watch', 'w', '--rev=2', '-w', 'json']);
  // And from a future revision etcd waits: the interactive form ends at end of input.
  const r = await runTool(CAIRNCTL, [`--endpoints=127.0.0.1:${p.b.clientPort}`, 'watch', '-i'], {
    stdin: 'bogus\n',
  });
  const e = await runTool(ETCDCTL, [`--endpoints=127.0.0.1:${p.a.clientPort}`, 'watch', '-i'], {
    stdin: 'bogus\n',
  });
  assert.deepEqual(r, e);
});
