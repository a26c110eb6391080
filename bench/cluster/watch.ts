// Watch fan-out: `watchers` watches of one key, spread over `streams` Watch streams on `conns` HTTP/2
// connections to the leader, while a putter writes that key at a steady rate (open loop: puts are
// sent on schedule, not when the previous one answers). Every put's value carries its sequence
// number, so each delivered event yields a put-to-event latency.
//
// The check: the putter is the only writer of the key, so the events of a watcher must be exactly
// the acknowledged puts, in revision order. Each watcher keeps its count and last revision; an event
// that does not raise the revision is out of order (or a duplicate), and once the putter is done and
// the round has drained, a count below the acknowledged puts means lost events. Together with the
// round's revision check (no other writes) this proves the sequence is complete and ordered without
// keeping it.

import {
  PutRequest,
  PutResponse,
  WatchCreateRequest,
  WatchRequest,
  WatchResponse,
} from '../../src/proto/etcdserverpb/rpc.js';
import { Event_EventType } from '../../src/proto/mvccpb/kv.js';
import { KV_PUT, WATCH } from './etcd-api.js';
import { GRPC_OK, GrpcConnection, grpcFrame, unframe, type GrpcStream } from './grpc-h2.js';
import { Samples, type LoadResult } from './load.js';
import type { RoundResult } from './report.js';
import { openBracket, openWindow, roundResult, type ResourceUsage, type RoundContext } from './round.js';
import { scanWatchResponse, type ScannedEvent } from './watch-decode.js';
import { benchValue } from './workloads.js';

export interface WatchFanoutOptions {
  readonly watchers: number;
  readonly conns: number;
  /** Watch streams in all, spread over the connections; watchers are spread over the streams. */
  readonly streams: number;
  /** Puts per second. */
  readonly rate: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly valueSize: number;
  /** How long to wait, after the last put, for every watcher to catch up before calling events lost. */
  readonly drainMs: number;
  readonly timeoutMs: number;
}

/** The digits of the put sequence number at the start of each value. */
const SEQ_DIGITS = 10;

interface Watcher {
  count: number;
  lastRevision: number;
}

export interface FanoutResult {
  /** Events as a load: ok = delivered events of measured puts, errors = every problem found. */
  readonly load: LoadResult;
  /** Puts acknowledged (warm-up included): the revisions the store must have advanced by. */
  readonly acked: number;
}

/**
 * Runs the fan-out against `url`; `onMeasureStart` runs when the warm-up ends and returns the
 * function that closes the measured window (given the client CPU spent in it).
 */
export async function watchFanout(
  url: string,
  key: Buffer,
  o: WatchFanoutOptions,
  onMeasureStart: () => (clientCpuSeconds: number) => void,
): Promise<FanoutResult> {
  const conns: GrpcConnection[] = [];
  const streams: GrpcStream[] = [];
  try {
    for (let i = 0; i < o.conns; i++) conns.push(await GrpcConnection.connect(url));

    const watchers: Watcher[] = Array.from({ length: o.watchers }, () => ({ count: 0, lastRevision: 0 }));
    const latencies = new Samples();
    const sentAt: number[] = [];
    let measureFromSeq = Number.POSITIVE_INFINITY;
    let measuredEvents = 0;
    let firstMeasuredSend = 0;
    let lastMeasuredEvent = 0;
    let secondCount = 0;
    let secondTimer: NodeJS.Timeout | undefined;
    const perSecond: number[] = [];
    let closing = false;
    let problems = 0;
    let firstProblem: string | undefined;
    const problem = (text: string): void => {
      problems++;
      firstProblem ??= text;
    };

    // Watchers are dealt to streams round-robin; each stream maps its watch ids to watchers in the
    // order of its created answers, which come in the order of the create requests.
    let created = 0;
    let onAllCreated: () => void = () => {};
    const allCreated = new Promise<void>((r) => (onAllCreated = r));
    const createFrame = grpcFrame(
      WatchRequest.encode({
        requestUnion: { $case: 'createRequest', value: WatchCreateRequest.fromPartial({ key }) },
      }).finish(),
    );
    for (let s = 0; s < o.streams; s++) {
      const mine: number[] = [];
      for (let w = s; w < o.watchers; w += o.streams) mine.push(w);
      const byId = new Map<number, Watcher>();
      const onEvent = (ev: ScannedEvent): void => {
        const watcher = byId.get(ev.watchId);
        if (watcher === undefined) {
          problem(`events for unknown watch id ${ev.watchId}`);
          return;
        }
        if (ev.type !== Event_EventType.PUT || key.compare(ev.buf, ev.keyStart, ev.keyEnd) !== 0) {
          problem(`unexpected event (type ${ev.type}) on watch ${ev.watchId}`);
          return;
        }
        if (ev.modRevision <= watcher.lastRevision) {
          problem(
            `watch ${ev.watchId}: revision ${ev.modRevision} after ${watcher.lastRevision} (out of order)`,
          );
        }
        watcher.lastRevision = ev.modRevision;
        watcher.count++;
        let seq = 0;
        for (let i = ev.valueStart; i < ev.valueStart + SEQ_DIGITS; i++) seq = seq * 10 + ev.buf[i] - 0x30;
        const sent = ev.valueEnd - ev.valueStart >= SEQ_DIGITS ? sentAt[seq] : undefined;
        if (sent === undefined) problem(`watch ${ev.watchId}: event of a put that was never sent`);
        else if (seq >= measureFromSeq) {
          const now = performance.now();
          latencies.push((now - sent) * 1000);
          measuredEvents++;
          secondCount++;
          lastMeasuredEvent = now;
        }
      };
      const stream = conns[s % conns.length].openStream(
        WATCH,
        (msg) => {
          if (!scanWatchResponse(msg, onEvent).special) return;
          // Created, canceled or fragmented: rare, so the generated decoder reads it.
          const res = WatchResponse.decode(msg);
          if (res.created) {
            if (res.canceled) problem(`watch create refused: ${res.cancelReason}`);
            const w = mine[byId.size];
            if (w === undefined) problem('more created answers than create requests');
            else byId.set(Number(res.watchId), watchers[w]);
            if (++created === o.watchers) onAllCreated();
          } else if (res.canceled)
            problem(`watch ${res.watchId} canceled by the server: ${res.cancelReason}`);
          else problem(`watch ${res.watchId}: a fragmented response (not asked for)`);
        },
        (code, message) => {
          if (!closing) problem(`watch stream ended: grpc-status ${code}: ${message}`);
        },
      );
      streams.push(stream);
      for (let i = 0; i < mine.length; i++) stream.write(createFrame);
    }
    let createTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      allCreated,
      new Promise<void>((_, reject) => {
        createTimer = setTimeout(
          () =>
            reject(new Error(`only ${created} of ${o.watchers} watches created within ${o.timeoutMs} ms`)),
          o.timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(createTimer));

    // The putter: a fresh connection, puts sent on schedule.
    const putConn = await GrpcConnection.connect(url);
    conns.push(putConn);
    const value = benchValue(o.valueSize, key.length);
    let acked = 0;
    let inFlight = 0;
    const putFrame = (seq: number): Buffer => {
      const v = Buffer.from(value);
      v.write(String(seq).padStart(SEQ_DIGITS, '0'), 0, 'latin1');
      return grpcFrame(PutRequest.encode(PutRequest.fromPartial({ key, value: v })).finish());
    };
    let close: ((clientCpuSeconds: number) => void) | undefined;
    let cpuAtMeasure = process.cpuUsage();
    await new Promise<void>((resolve) => {
      const start = performance.now();
      let seq = 0;
      let stopped = false;
      const tick = setInterval(() => {
        const elapsed = performance.now() - start;
        if (elapsed >= o.warmupMs && close === undefined) {
          close = onMeasureStart();
          cpuAtMeasure = process.cpuUsage();
          measureFromSeq = seq;
          firstMeasuredSend = performance.now();
          secondTimer = setInterval(() => {
            perSecond.push(secondCount);
            secondCount = 0;
          }, 1000);
        }
        if (elapsed >= o.warmupMs + o.durationMs) {
          stopped = true;
          clearInterval(tick);
          if (inFlight === 0) resolve();
          return;
        }
        // Catch up on every put that is due: the rate holds even when a timer fires late.
        const due = Math.floor((elapsed / 1000) * o.rate) + 1;
        while (seq < due) {
          const mySeq = seq++;
          sentAt[mySeq] = performance.now();
          inFlight++;
          putConn.call(
            KV_PUT,
            putFrame(mySeq),
            (code, message, body) => {
              inFlight--;
              const msg = body === undefined ? undefined : unframe(body);
              if (
                code === GRPC_OK &&
                msg !== undefined &&
                (PutResponse.decode(msg).header?.revision ?? 0n) > 0n
              ) {
                acked++;
              } else {
                problem(`put ${mySeq}: grpc-status ${code}: ${message}`);
              }
              if (stopped && inFlight === 0) resolve();
            },
            { keepBody: true, timeoutMs: o.timeoutMs },
          );
        }
      }, 2);
    });

    // Drain: wait until every watcher saw every acknowledged put, or give up.
    const drainUntil = performance.now() + o.drainMs;
    while (watchers.some((w) => w.count < acked) && performance.now() < drainUntil) {
      await new Promise((r) => setTimeout(r, 20));
    }
    clearInterval(secondTimer);
    const clientCpu = process.cpuUsage(cpuAtMeasure);
    const clientCpuSeconds = (clientCpu.user + clientCpu.system) / 1e6;
    if (close === undefined) throw new Error('the watch round never opened its measured window');
    close(clientCpuSeconds);

    const short = watchers.filter((w) => w.count < acked);
    const extra = watchers.filter((w) => w.count > acked);
    if (short.length > 0) {
      const lost = short.reduce((n, w) => n + acked - w.count, 0);
      problem(`${short.length} watchers missed ${lost} events in all (after ${o.drainMs} ms of draining)`);
    }
    if (extra.length > 0) problem(`${extra.length} watchers got more events than acknowledged puts`);
    closing = true;
    const load: LoadResult = {
      ok: measuredEvents,
      errors: problems,
      firstError: firstProblem,
      warmupOk: 0,
      warmupErrors: 0,
      seconds: Math.max(0, lastMeasuredEvent - firstMeasuredSend) / 1000,
      latenciesUs: latencies.sorted(),
      perSecond,
      clientCpuSeconds,
      maxConcurrentStreams: conns[0].maxConcurrentStreams(),
    };
    return { load, acked };
  } finally {
    for (const s of streams) s.cancel();
    for (const c of conns) c.close();
  }
}

/** One fan-out round against the leader, with the round's checks and /proc readings. */
export async function runWatchRound(ctx: RoundContext, o: WatchFanoutOptions): Promise<RoundResult> {
  const control = await GrpcConnection.connect(ctx.leader.clientUrl);
  try {
    const bracket = await openBracket(control, ctx.round);
    let usage: ResourceUsage | undefined;
    const { load, acked } = await watchFanout(
      ctx.leader.clientUrl,
      Buffer.from(`bench/watch/r${ctx.round}`),
      o,
      () => {
        const close = openWindow(ctx.cluster, ctx.other, ctx.leader);
        return (clientCpuSeconds) => {
          usage = close(clientCpuSeconds);
        };
      },
    );
    if (usage === undefined) throw new Error('the watch round never closed its measured window');
    const b = await bracket.close();
    return roundResult(ctx, load, usage, b, {
      unit: 'events',
      clients: o.watchers,
      conns: o.conns,
      expectedRevisionDelta: BigInt(acked),
    });
  } finally {
    control.close();
  }
}
