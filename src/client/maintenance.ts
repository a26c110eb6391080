// The Maintenance service. Status, defragment and the hashes describe one member, so they take the
// endpoint to ask (`call.endpoint`); without it they go to whichever endpoint answers.

import { AlarmRequest_AlarmAction, AlarmType, MaintenanceService } from '../proto/etcdserverpb/rpc.js';
import type {
  AlarmResponse,
  DefragmentResponse,
  HashKVResponse,
  HashResponse,
  MoveLeaderResponse,
  SnapshotResponse,
  StatusResponse,
} from '../proto/etcdserverpb/rpc.js';
import { toEtcdError } from './errors.js';
import { AsyncQueue } from './queue.js';
import type { CallOptions, Transport } from './transport.js';

export { AlarmType };

export class Maintenance {
  constructor(private readonly transport: Transport) {}

  status(call: CallOptions = {}): Promise<StatusResponse> {
    return this.transport.unary(MaintenanceService.status, {}, { ...call, retryUnavailable: true });
  }

  alarmList(call: CallOptions = {}): Promise<AlarmResponse> {
    const request = { action: AlarmRequest_AlarmAction.GET, memberID: 0n, alarm: AlarmType.NONE };
    return this.transport.unary(MaintenanceService.alarm, request, { ...call, retryUnavailable: true });
  }

  /** Deactivates an alarm; member 0 and NONE match every alarm. */
  alarmDisarm(
    memberID = 0n,
    alarm: AlarmType = AlarmType.NONE,
    call: CallOptions = {},
  ): Promise<AlarmResponse> {
    const request = { action: AlarmRequest_AlarmAction.DEACTIVATE, memberID, alarm };
    return this.transport.unary(MaintenanceService.alarm, request, call);
  }

  defragment(call: CallOptions = {}): Promise<DefragmentResponse> {
    return this.transport.unary(MaintenanceService.defragment, {}, call);
  }

  hash(call: CallOptions = {}): Promise<HashResponse> {
    return this.transport.unary(MaintenanceService.hash, {}, { ...call, retryUnavailable: true });
  }

  hashKV(revision = 0n, call: CallOptions = {}): Promise<HashKVResponse> {
    return this.transport.unary(MaintenanceService.hashKv, { revision }, { ...call, retryUnavailable: true });
  }

  /** Must be sent to the current leader. */
  moveLeader(targetID: bigint, call: CallOptions = {}): Promise<MoveLeaderResponse> {
    return this.transport.unary(MaintenanceService.moveLeader, { targetID }, call);
  }

  /**
   * The member's backend as a stream of chunks (`blob`), `remainingBytes` counting down, then the
   * SHA-256 of the whole as the last blob. Aborting `call.signal` cancels the stream.
   */
  async snapshot(call: CallOptions = {}): Promise<AsyncIterable<SnapshotResponse>> {
    const stream = await this.transport.serverStream(MaintenanceService.snapshot, {}, call);
    const queue = new AsyncQueue<SnapshotResponse>();
    stream.on('data', (chunk: SnapshotResponse) => queue.push(chunk));
    stream.on('error', (e: unknown) => queue.end(toEtcdError(e)));
    stream.on('end', () => queue.end());
    // Aborting cancels the call; the queue then ends with the cancellation error.
    if (call.signal?.aborted === true) stream.cancel();
    else call.signal?.addEventListener('abort', () => stream.cancel(), { once: true });
    return queue;
  }
}
