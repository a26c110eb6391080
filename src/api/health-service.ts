// grpc.health.v1.Health/Check, which etcd registers on its client port. The two messages are tiny,
// so they are coded by hand here instead of adding a dependency or generated code:
//   HealthCheckRequest  { string service = 1; }
//   HealthCheckResponse { ServingStatus status = 1; }  UNKNOWN=0 SERVING=1 NOT_SERVING=2

import type { ServerApi } from '../server/api.js';

export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;
export type ServingStatus = (typeof ServingStatus)[keyof typeof ServingStatus];

export interface HealthCheckRequest {
  readonly service: string;
}
export interface HealthCheckResponse {
  readonly status: ServingStatus;
}

/** Reads a base-128 varint at `pos`; returns the value and the position after it. */
function varint(buf: Uint8Array, pos: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (pos >= buf.length) throw new Error('health: truncated varint');
    const b = buf[pos++];
    // Multiplication, not <<, so values above 2^31 stay positive (lengths never get there).
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [value, pos];
    shift += 7;
    if (shift > 63) throw new Error('health: varint too long');
  }
}

export function decodeHealthCheckRequest(buf: Uint8Array): HealthCheckRequest {
  let service = '';
  let pos = 0;
  while (pos < buf.length) {
    let tag: number;
    [tag, pos] = varint(buf, pos);
    const field = Math.floor(tag / 8);
    switch (tag & 7) {
      case 0:
        [, pos] = varint(buf, pos);
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        let len: number;
        [len, pos] = varint(buf, pos);
        if (pos + len > buf.length) throw new Error('health: truncated field');
        if (field === 1) service = Buffer.from(buf.buffer, buf.byteOffset + pos, len).toString('utf8');
        pos += len;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        throw new Error(`health: unsupported wire type ${tag & 7}`);
    }
  }
  if (pos > buf.length) throw new Error('health: truncated field');
  return { service };
}

export function encodeHealthCheckRequest(r: HealthCheckRequest): Buffer {
  const s = Buffer.from(r.service, 'utf8');
  if (s.length === 0) return Buffer.alloc(0);
  if (s.length > 127) throw new Error('health: service name too long for this encoder');
  return Buffer.concat([Buffer.from([0x0a, s.length]), s]);
}

export function encodeHealthCheckResponse(r: HealthCheckResponse): Buffer {
  // proto3 omits the default (UNKNOWN); every status fits in one varint byte.
  return r.status === ServingStatus.UNKNOWN ? Buffer.alloc(0) : Buffer.from([0x08, r.status]);
}

export function decodeHealthCheckResponse(buf: Uint8Array): HealthCheckResponse {
  let status = 0;
  let pos = 0;
  while (pos < buf.length) {
    let tag: number;
    [tag, pos] = varint(buf, pos);
    if (tag === 0x08) [status, pos] = varint(buf, pos);
    else throw new Error(`health: unexpected tag ${tag}`);
  }
  return { status: status as ServingStatus };
}

export const HealthService = {
  check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeHealthCheckRequest,
    requestDeserialize: decodeHealthCheckRequest,
    responseSerialize: encodeHealthCheckResponse,
    responseDeserialize: decodeHealthCheckResponse,
  },
} as const;

/** A named service the member does not know (the standard health server's NotFound). */
class UnknownService extends Error {
  readonly code = 'NotFound';
  constructor() {
    super('unknown service');
  }
}

/**
 * The overall service ('') is SERVING while the member is healthy (ServerApi.health()). Like the
 * standard health server, a named service it does not know is NotFound "unknown service".
 */
export async function checkHealth(api: ServerApi, request: HealthCheckRequest): Promise<HealthCheckResponse> {
  if (request.service !== '') throw new UnknownService();
  const h = await api.health();
  return { status: h.health ? ServingStatus.SERVING : ServingStatus.NOT_SERVING };
}
