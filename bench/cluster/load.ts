// The closed-loop load generator: `clients` requests always in flight over `conns` HTTP/2 sessions,
// each client issuing its next request when the previous one answers. A warm-up phase runs first
// and is excluded: only requests issued after it count, and the measured window runs from the end
// of the warm-up to the last counted answer. Requests are unary calls by default; a workload that
// rides on streams (LeaseKeepAlive) brings its own channels.

import { GRPC_OK, GrpcConnection, type CallOptions, type Done } from './grpc-h2.js';
import type { Workload } from './workloads.js';

/** Something a client sends its requests through: a connection (unary calls) or a stream adapter. */
export interface Channel {
  call(path: string, frame: Buffer, done: Done, options?: CallOptions): void;
  isOpen(): boolean;
  close(): void;
}

/** Opens a workload's channels over the load's connections. */
export type ChannelFactory = (conns: readonly GrpcConnection[]) => Promise<readonly Channel[]>;

export type Stop =
  { readonly kind: 'total'; readonly calls: number } | { readonly kind: 'duration'; readonly ms: number };

export interface LoadOptions {
  readonly url: string;
  readonly conns: number;
  readonly clients: number;
  readonly warmupMs: number;
  readonly stop: Stop;
  readonly workload: Workload;
  /** Per-call deadline; a call past it is cancelled and counted as an error. */
  readonly timeoutMs: number;
  /** Runs at the end of the warm-up, when the measured window opens (e.g. to sample server CPU). */
  readonly onMeasureStart?: () => void;
  /** Channels over the open connections; default: the connections themselves (unary calls). */
  readonly channels?: ChannelFactory;
}

export interface LoadResult {
  /** Successful calls in the measured window. */
  readonly ok: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  /** Successful calls during the warm-up (for the revision check). */
  readonly warmupOk: number;
  readonly warmupErrors: number;
  readonly seconds: number;
  /** Latency of every measured call, successful or not, in microseconds, sorted ascending. */
  readonly latenciesUs: Float64Array;
  /** Completions per whole second of the window: shows stalls that an average hides. */
  readonly perSecond: readonly number[];
  /** CPU seconds (user + system) this process spent in the measured window. */
  readonly clientCpuSeconds: number;
  /** The servers' SETTINGS_MAX_CONCURRENT_STREAMS as seen on the first session. */
  readonly maxConcurrentStreams: number | undefined;
}

/** A growable array of doubles: a plain number[] would box on push at 20k+ calls/s. */
export class Samples {
  private buf = new Float64Array(1 << 16);
  length = 0;
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  sorted(): Float64Array {
    return this.buf.slice(0, this.length).sort();
  }
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const conns: GrpcConnection[] = [];
  let channels: readonly Channel[] = [];
  try {
    for (let i = 0; i < o.conns; i++) conns.push(await GrpcConnection.connect(o.url));
    channels = o.channels === undefined ? conns : await o.channels(conns);
    const result = await drive(o, channels);
    return { ...result, maxConcurrentStreams: conns[0]?.maxConcurrentStreams() };
  } finally {
    if (o.channels !== undefined) for (const c of channels) c.close();
    for (const c of conns) c.close();
  }
}

function drive(
  o: LoadOptions,
  channels: readonly Channel[],
): Promise<Omit<LoadResult, 'maxConcurrentStreams'>> {
  const { workload, stop } = o;
  const path = workload.path;
  const callOptions = { timeoutMs: o.timeoutMs };
  const latencies = new Samples();
  const perSecond: number[] = [];

  let measuring = false;
  let issuing = true;
  let seq = 0;
  let measuredIssued = 0;
  let ok = 0;
  let errors = 0;
  let warmupOk = 0;
  let warmupErrors = 0;
  let firstError: string | undefined;
  let inFlight = 0;
  let windowStart = 0n;
  let lastAnswer = 0n;
  let cpuAtStart: NodeJS.CpuUsage = { user: 0, system: 0 };
  let secondCount = 0;
  let secondTimer: NodeJS.Timeout | undefined;
  let warmupTimer: NodeJS.Timeout | undefined;
  let stopTimer: NodeJS.Timeout | undefined;

  return new Promise((resolve) => {
    const finish = (): void => {
      clearInterval(secondTimer);
      clearTimeout(warmupTimer);
      clearTimeout(stopTimer);
      const cpu = process.cpuUsage(cpuAtStart);
      const end = lastAnswer > windowStart ? lastAnswer : process.hrtime.bigint();
      // The last, partial second (the drain) would read as a stall: leave it out.
      resolve({
        ok,
        errors,
        firstError,
        warmupOk,
        warmupErrors,
        seconds: measuring ? Number(end - windowStart) / 1e9 : 0,
        latenciesUs: latencies.sorted(),
        perSecond,
        clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
      });
    };

    const startMeasuring = (): void => {
      o.onMeasureStart?.();
      measuring = true;
      cpuAtStart = process.cpuUsage();
      windowStart = process.hrtime.bigint();
      secondTimer = setInterval(() => {
        perSecond.push(secondCount);
        secondCount = 0;
      }, 1000);
      if (stop.kind === 'duration') {
        stopTimer = setTimeout(() => {
          issuing = false;
        }, stop.ms);
      }
    };

    const issue = (client: number, conn: Channel): void => {
      if (!issuing) {
        if (--inFlight === 0) finish();
        return;
      }
      const counted = measuring;
      if (counted && stop.kind === 'total' && ++measuredIssued >= stop.calls) issuing = false;
      const started = process.hrtime.bigint();
      conn.call(
        path,
        workload.request(seq++, client),
        (code, message) => {
          const now = process.hrtime.bigint();
          if (counted) {
            latencies.push(Number(now - started) / 1000);
            lastAnswer = now;
            secondCount++;
            if (code === GRPC_OK) ok++;
            else {
              errors++;
              firstError ??= `grpc-status ${code}: ${message}`;
            }
          } else if (code === GRPC_OK) warmupOk++;
          else {
            warmupErrors++;
            firstError ??= `(warm-up) grpc-status ${code}: ${message}`;
          }
          // A dead session answers at once: stop this client instead of spinning on errors.
          if (code !== GRPC_OK && !conn.isOpen()) {
            if (--inFlight === 0) finish();
            return;
          }
          issue(client, conn);
        },
        callOptions,
      );
    };

    if (o.warmupMs > 0) warmupTimer = setTimeout(startMeasuring, o.warmupMs);
    else startMeasuring();
    inFlight = o.clients;
    for (let i = 0; i < o.clients; i++) issue(i, channels[i % channels.length]);
  });
}
