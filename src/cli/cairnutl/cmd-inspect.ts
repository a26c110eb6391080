// inspect --data-dir DIR [-w simple|json] (Cairn's own; etcd has no equivalent): a read-only report
// on a member's data dir (src/server/inspect.ts) and the recovery procedures that apply.
//
// -w simple: a text report, one `key: value` per line, sections in the order the member reads its
// files (WAL, raft snapshots, backend), then the diagnosis. -w json: the report as one line of JSON
// (64-bit IDs as lowercase hex strings, absent values as null). The exit code is 0 whenever a report
// was made, healthy or not (`healthy` in the JSON); 1 when there is no member to inspect.

import { describeHolders } from '../../server/data-dir-use.js';
import { InspectError, inspectDataDir, type InspectReport } from '../../server/inspect.js';
import type { CommandSpec } from '../cairnctl/command.js';
import { errorText, type Context } from '../cairnctl/context.js';
import { ExitCode, fail } from '../cairnctl/exit.js';
import { humanizeBytes } from '../cairnctl/go-text.js';

const hex = (id: bigint): string => id.toString(16);
const bytes = (n: number): string => `${n} bytes (${humanizeBytes(BigInt(n))})`;

/** The report as JSON: bigints (IDs) as hex strings, undefined as null. */
export function inspectJson(r: InspectReport): string {
  return JSON.stringify(r, (_key, value: unknown) => {
    if (typeof value === 'bigint') return hex(value);
    return value === undefined ? null : value;
  });
}

/** The report as text. */
export function inspectText(r: InspectReport): string {
  const lines: string[] = [];
  const put = (indent: number, key: string, value: string): void => {
    lines.push(`${' '.repeat(indent)}${`${key}:`.padEnd(22 - indent)} ${value}`);
  };
  put(0, 'data dir', r.dataDir);
  put(0, 'member ID', r.memberId === undefined ? 'unknown (no readable WAL metadata)' : hex(r.memberId));
  put(0, 'cluster ID', r.clusterId === undefined ? 'unknown (no readable WAL metadata)' : hex(r.clusterId));
  if (r.holders === undefined) put(0, 'in use', 'unknown (no /proc)');
  else if (r.holders.length === 0) put(0, 'in use', 'no');
  else put(0, 'in use', describeHolders(r.holders));
  if (r.walLock !== undefined) {
    const l = r.walLock;
    const who =
      l.pid === undefined ? 'unreadable' : `pid ${l.pid} on ${l.host || '?'} since ${l.since || '?'}`;
    put(0, 'WAL lock file', `${who}${l.pid !== undefined && !l.pidAlive ? ' (not running: stale)' : ''}`);
  }

  const w = r.wal;
  lines.push(`WAL: ${w.dir}`);
  for (const s of w.segments) {
    put(2, 'segment', `${s.name}  seq ${s.seq}  first index ${s.firstIndex}  ${s.bytes} bytes`);
  }
  put(
    2,
    'sequence',
    w.gaps.length === 0
      ? 'contiguous'
      : w.gaps.map((g) => `gap between ${g.after} and ${g.before}`).join('; '),
  );
  if (w.corrupt !== undefined) {
    put(2, 'CRC chain', `CORRUPT at ${w.corrupt.file} offset ${w.corrupt.offset} (${w.corrupt.reason})`);
  } else if (w.torn !== undefined) {
    put(
      2,
      'CRC chain',
      `valid up to a TORN TAIL at ${w.torn.file} offset ${w.torn.offset} (${w.torn.reason})`,
    );
  } else if (w.end !== undefined) {
    put(2, 'CRC chain', `valid, data ends at ${w.end.file} offset ${w.end.offset}`);
  }
  if (w.error !== undefined) put(2, 'error', w.error);
  const upTo = w.corrupt === undefined ? '' : ' (as of the last good record)';
  if (w.hardState !== undefined) {
    const hs = w.hardState;
    put(2, 'hard state', `term ${hs.term}, vote ${hex(hs.vote)}, commit ${hs.commit}${upTo}`);
  }
  if (w.openedAt !== undefined) {
    const e = w.entries === undefined ? '' : ` (${w.entries} entries after it)`;
    const at =
      w.openedAt.index === 0
        ? 'none (from the start of the log)'
        : `index ${w.openedAt.index}, term ${w.openedAt.term}`;
    put(2, 'opened at snapshot', `${at}${e}`);
  }
  if (w.last !== undefined) put(2, 'last entry', `index ${w.last.index}, term ${w.last.term}${upTo}`);
  put(
    2,
    'snapshot records',
    w.snapshotRecords.length === 0 ? 'none' : w.snapshotRecords.map((s) => `${s.index}/${s.term}`).join(' '),
  );
  if (w.openError !== undefined) put(2, 'open error', w.openError);

  lines.push(`raft snapshots: ${r.snapDir}`);
  if (r.snapshots.length === 0) put(2, 'files', 'none');
  for (const s of r.snapshots) {
    const state = [s.error === undefined ? 'ok' : `UNREADABLE (${s.error})`];
    state.push(s.knownToWal ? 'known to the WAL' : 'not known to the WAL');
    if (s.used) state.push('used at start');
    put(2, 'file', `${s.name}  term ${s.term}  index ${s.index}  ${s.bytes} bytes  ${state.join(', ')}`);
  }

  const b = r.backend;
  lines.push(`backend: ${b.path}`);
  if (b.state === 'missing') put(2, 'state', 'MISSING');
  else if (b.state === 'unreadable') put(2, 'state', `UNREADABLE (${b.error})`);
  else if (b.state === 'in-use') put(2, 'state', `not read: in use (size ${bytes(b.sizeBytes)})`);
  else {
    put(2, 'size', `${bytes(b.sizeBytes)}, in use ${bytes(b.sizeInUseBytes)}`);
    put(2, 'consistent index', `${b.consistentIndex} (term ${b.consistentTerm})`);
    put(2, 'revision', String(b.revision));
    const scheduled =
      b.scheduledCompactRevision > b.compactRevision ? ` (scheduled: ${b.scheduledCompactRevision})` : '';
    put(2, 'compacted revision', `${b.compactRevision < 0 ? 'none' : String(b.compactRevision)}${scheduled}`);
    put(2, 'hash (HashKV)', `${b.hashKv.hash} at revision ${b.hashKv.revision}`);
    put(2, 'cluster version', b.clusterVersion ?? 'not decided');
    put(
      2,
      'alarms',
      b.alarms.length === 0 ? 'none' : b.alarms.map((a) => `${a.alarm} (${hex(a.memberId)})`).join(', '),
    );
    for (const m of b.members) {
      const learner = m.isLearner ? '  learner' : '';
      put(
        2,
        'member',
        `${hex(m.id)}  ${m.name === '' ? '(unstarted)' : m.name}  peer URLs ${m.peerUrls.join(',') || '-'}  client URLs ${m.clientUrls.join(',') || '-'}${learner}`,
      );
    }
    if (b.members.length === 0) put(2, 'members', 'none');
    put(
      2,
      'removed members',
      b.removedMemberIds.length === 0 ? 'none' : b.removedMemberIds.map(hex).join(', '),
    );
    for (const warning of b.warnings) put(2, 'warning', warning);
  }

  const problems = r.findings.filter((f) => f.severity !== 'info').length;
  lines.push(`diagnosis: ${r.healthy ? 'healthy' : `${problems} problem${problems === 1 ? '' : 's'}`}`);
  for (const f of r.findings) {
    lines.push(`  [${f.severity}] ${f.problem}`);
    lines.push(`    procedure: ${f.procedure}`);
  }
  return lines.join('\n') + '\n';
}

export const inspectCommand: CommandSpec = {
  name: 'inspect',
  usage: 'inspect --data-dir <dir>',
  short: "Reports on a member's data directory and the recovery procedures that apply (read only)",
  flags: [{ name: 'data-dir', kind: 'string', def: '', usage: 'Required. The data directory to inspect.' }],
  run: async (ctx: Context) => {
    const dataDir = ctx.flags.string('data-dir');
    if (dataDir === '') fail(ExitCode.Error, 'required flag(s) "data-dir" not set');
    const format = ctx.flags.string('write-out');
    if (format !== 'simple' && format !== 'json') fail(ExitCode.BadFeature, 'unsupported output format');
    let report: InspectReport;
    try {
      report = await inspectDataDir(dataDir);
    } catch (e) {
      if (e instanceof InspectError) fail(ExitCode.Error, e.message);
      fail(ExitCode.Error, `cannot inspect ${dataDir}: ${errorText(e)}`);
    }
    ctx.o.out(format === 'json' ? `${inspectJson(report)}\n` : inspectText(report));
  },
};
