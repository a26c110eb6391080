// The replicated application: a string-to-string map with put and compare-and-set, plus the client
// session table that makes a command apply at most once however many times its entry is in the log.
// Gets never go through the log; they are served from the local map after a ReadIndex round.

export type Command =
  | { readonly c: number; readonly r: number; readonly o: 'put'; readonly k: string; readonly v: string }
  | {
      readonly c: number;
      readonly r: number;
      readonly o: 'cas';
      readonly k: string;
      readonly e: string | null;
      readonly v: string;
    };

export type CommandResult = { readonly kind: 'put' } | { readonly kind: 'cas'; readonly ok: boolean };

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeCommand(cmd: Command): Uint8Array {
  return encoder.encode(JSON.stringify(cmd));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Decode a command from an entry's data; throws on anything that is not one of ours. */
export function decodeCommand(data: Uint8Array): Command {
  const v: unknown = JSON.parse(decoder.decode(data));
  if (
    !isRecord(v) ||
    typeof v['c'] !== 'number' ||
    typeof v['r'] !== 'number' ||
    typeof v['k'] !== 'string'
  ) {
    throw new Error(`not a command: ${decoder.decode(data)}`);
  }
  const c = v['c'];
  const r = v['r'];
  const k = v['k'];
  const value = v['v'];
  if (typeof value !== 'string') throw new Error(`command without a value: ${decoder.decode(data)}`);
  if (v['o'] === 'put') return { c, r, o: 'put', k, v: value };
  if (v['o'] === 'cas') {
    const e = v['e'];
    if (e !== null && typeof e !== 'string') throw new Error(`bad cas expectation: ${decoder.decode(data)}`);
    return { c, r, o: 'cas', k, e, v: value };
  }
  throw new Error(`unknown command: ${decoder.decode(data)}`);
}

export function describeCommand(cmd: Command): string {
  return cmd.o === 'put'
    ? `c${cmd.c}#${cmd.r} put ${cmd.k}=${cmd.v}`
    : `c${cmd.c}#${cmd.r} cas ${cmd.k} ${String(cmd.e)}->${cmd.v}`;
}

interface Session {
  readonly requestId: number;
  readonly result: CommandResult;
}

export interface ApplyOutcome {
  /** The command was already applied (or superseded by a later request of the same client). */
  readonly duplicate: boolean;
  /** The result to hand to the client; undefined for a superseded request. */
  readonly result: CommandResult | undefined;
}

export class KvStateMachine {
  private readonly data = new Map<string, string>();
  private readonly sessions = new Map<number, Session>();

  get(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  apply(cmd: Command): ApplyOutcome {
    const session = this.sessions.get(cmd.c);
    if (session !== undefined && cmd.r <= session.requestId) {
      // Each client has one request at a time and numbers them upwards, so an older request id is a
      // duplicate entry or a request the client has already given up on: it must not take effect.
      return { duplicate: true, result: cmd.r === session.requestId ? session.result : undefined };
    }
    let result: CommandResult;
    if (cmd.o === 'put') {
      this.data.set(cmd.k, cmd.v);
      result = { kind: 'put' };
    } else {
      const ok = (this.data.get(cmd.k) ?? null) === cmd.e;
      if (ok) this.data.set(cmd.k, cmd.v);
      result = { kind: 'cas', ok };
    }
    this.sessions.set(cmd.c, { requestId: cmd.r, result });
    return { duplicate: false, result };
  }

  /** The result of (clientId, requestId) if it is the client's last applied request. */
  sessionResult(clientId: number, requestId: number): CommandResult | undefined {
    const s = this.sessions.get(clientId);
    return s !== undefined && s.requestId === requestId ? s.result : undefined;
  }

  /** Canonical bytes (keys and sessions sorted), so equal states serialize identically. */
  serialize(): Uint8Array {
    const kv = [...this.data.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const sessions = [...this.sessions.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([c, s]) => [
        c,
        s.requestId,
        s.result.kind === 'put' ? 'put' : s.result.ok ? 'cas:ok' : 'cas:fail',
      ]);
    return encoder.encode(JSON.stringify({ kv, sessions }));
  }

  static deserialize(bytes: Uint8Array): KvStateMachine {
    const sm = new KvStateMachine();
    if (bytes.length === 0) return sm;
    const v: unknown = JSON.parse(decoder.decode(bytes));
    if (!isRecord(v) || !Array.isArray(v['kv']) || !Array.isArray(v['sessions'])) {
      throw new Error('corrupt state machine snapshot');
    }
    for (const pair of v['kv'] as unknown[]) {
      if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
        throw new Error('corrupt state machine snapshot (kv)');
      }
      sm.data.set(pair[0], pair[1]);
    }
    for (const row of v['sessions'] as unknown[]) {
      if (!Array.isArray(row) || typeof row[0] !== 'number' || typeof row[1] !== 'number') {
        throw new Error('corrupt state machine snapshot (sessions)');
      }
      const tag: unknown = row[2];
      const result: CommandResult = tag === 'put' ? { kind: 'put' } : { kind: 'cas', ok: tag === 'cas:ok' };
      sm.sessions.set(row[0], { requestId: row[1], result });
    }
    return sm;
  }
}
