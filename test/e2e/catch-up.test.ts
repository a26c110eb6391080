// End to end: a follower that falls so far behind that the leader has compacted the entries it
// needs gets the leader's database as a raft snapshot, installs it, and serves everything, and a
// watch open on it delivers every event across the install, in order, exactly once.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Client } from '../../src/client/index.js';
import { cairnCluster, waitFor } from '../support/cairn-cluster.js';
import { endpointOf, holds, leaderOf, started } from '../support/etcdctl.js';

// The stopped follower's sockets still take the leader's messages until raft's window of 512
// unacknowledged appends is full; one write in flight makes each append one entry. So it is left at
// most 512 entries on, and the leader keeps 5000 entries behind a snapshot taken every 100: 6000
// writes put what it needs out of the leader's log.
const WRITES = 6000;

test('a follower far behind catches up by snapshot; its watchers see every event once', async (t) => {
  const c = await cairnCluster(t, ['s1', 's2', 's3']);
  for (const m of c.members) c.start(m, ['--snapshot-count', '100']);
  await started(c);
  const leaderEndpoint = await leaderOf(c);
  const follower = c.members.find((m) => endpointOf(m) !== leaderEndpoint)!;

  // Keepalive pings would give up on the stopped follower and drop the watch: this test wants the
  // same stream to live through the stop and the snapshot install.
  const onFollower = Client.connect({
    endpoints: [endpointOf(follower)],
    keepaliveTimeMs: 600_000,
    keepaliveTimeoutMs: 600_000,
  });
  const writer = Client.connect({ endpoints: [leaderEndpoint] });
  t.after(() => {
    onFollower.close();
    writer.close();
  });
  const first = await writer.kv.put('bulk/start', 'x');
  const watch = await onFollower.watch.watch(
    'bulk/',
    { prefix: true, startRevision: first.header!.revision },
    // The stopped follower may briefly lack a leader when it resumes; this test is about events.
    { requireLeader: false },
  );
  t.after(() => watch.close());
  const revisions: bigint[] = [];
  const collecting = (async () => {
    for await (const r of watch) {
      for (const e of r.events) revisions.push(e.kv!.modRevision);
      if (revisions.length === WRITES + 1) return;
    }
  })();
  collecting.catch(() => {}); // awaited below; a failure before then must not go unhandled
  await waitFor('the first event on the follower', async () => (revisions.length > 0 ? true : undefined));

  process.kill(follower.process!.pid!, 'SIGSTOP');
  let resumed = false;
  t.after(() => {
    if (!resumed && follower.process?.pid !== undefined) process.kill(follower.process.pid, 'SIGCONT');
  });
  for (let i = 0; i < WRITES; i++) await writer.kv.put(`bulk/${String(i).padStart(5, '0')}`, `v${i}`);
  process.kill(follower.process!.pid!, 'SIGCONT');
  resumed = true;

  const last = `bulk/${String(WRITES - 1).padStart(5, '0')}`;
  await holds(endpointOf(follower), last, `v${WRITES - 1}`, 30000);
  assert.match(follower.log, /installed the leader's snapshot at index \d+/);
  const range = await onFollower.kv.range('bulk/', { prefix: true, countOnly: true, serializable: true });
  assert.equal(range.count, BigInt(WRITES + 1), 'the follower holds every key');

  await Promise.race([
    collecting,
    new Promise((_, reject) =>
      setTimeout(
        () => reject(new Error(`the watch delivered ${revisions.length} of ${WRITES + 1} events`)),
        20000,
      ).unref(),
    ),
  ]);
  // Every revision from the start, each once, in order (each put is one revision).
  const expected = Array.from({ length: WRITES + 1 }, (_, i) => first.header!.revision + BigInt(i));
  assert.deepEqual(revisions, expected);
});
