// A lean reader of WatchResponse messages for the fan-out's hot path. With 1,000 watchers every put
// becomes 1,000 messages; the generated decoder builds objects for the header and each event and
// costs ~20 µs of client CPU per message, which would make the client the bottleneck on 2 cores.
// This walks the protobuf wire format and reports only what the check needs. Anything but a plain
// event batch (created, canceled, fragments) is left to the generated decoder.

/** The fields of etcd's WatchResponse, Event and KeyValue that the scan reads. */
const WR_WATCH_ID = 2;
const WR_CREATED = 3;
const WR_CANCELED = 4;
const WR_FRAGMENT = 7;
const WR_EVENTS = 11;
const EV_TYPE = 1;
const EV_KV = 2;
const KV_KEY = 1;
const KV_MOD_REVISION = 3;
const KV_VALUE = 5;

export interface ScannedEvent {
  /** The message the offsets point into. */
  buf: Buffer;
  watchId: number;
  /** 0 = PUT, 1 = DELETE. */
  type: number;
  modRevision: number;
  keyStart: number;
  keyEnd: number;
  valueStart: number;
  valueEnd: number;
}

export interface Scan {
  watchId: number;
  /** True when the message is not a plain event batch: decode it in full. */
  special: boolean;
  events: number;
}

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }
  varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error('watch response: truncated varint');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
  }
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 2) {
      // Not `this.pos += this.varint()`: that adds to the position from before the length was read.
      const len = this.varint();
      this.pos += len;
    } else if (wireType === 1) this.pos += 8;
    else if (wireType === 5) this.pos += 4;
    else throw new Error(`watch response: wire type ${wireType}`);
  }
}

function scanKv(r: Reader, end: number, ev: ScannedEvent): void {
  while (r.pos < end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === KV_KEY && wire === 2) {
      const len = r.varint();
      ev.keyStart = r.pos;
      ev.keyEnd = r.pos + len;
      r.pos += len;
    } else if (field === KV_VALUE && wire === 2) {
      const len = r.varint();
      ev.valueStart = r.pos;
      ev.valueEnd = r.pos + len;
      r.pos += len;
    } else if (field === KV_MOD_REVISION && wire === 0) ev.modRevision = r.varint();
    else r.skip(wire);
  }
}

/**
 * Scans one WatchResponse; calls `onEvent` for each event (the same object, refilled: copy what you
 * keep). Returns the watch id and whether the message needs the full decoder instead.
 */
export function scanWatchResponse(buf: Buffer, onEvent: (ev: ScannedEvent) => void): Scan {
  const r = new Reader(buf, 0, buf.length);
  const scan: Scan = { watchId: 0, special: false, events: 0 };
  const ev: ScannedEvent = {
    buf,
    watchId: 0,
    type: 0,
    modRevision: 0,
    keyStart: 0,
    keyEnd: 0,
    valueStart: 0,
    valueEnd: 0,
  };
  // Events are reported after the whole message is read, so the watch id is known whatever the order.
  const starts: number[] = [];
  const ends: number[] = [];
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === WR_WATCH_ID && wire === 0) scan.watchId = r.varint();
    else if ((field === WR_CREATED || field === WR_CANCELED || field === WR_FRAGMENT) && wire === 0) {
      if (r.varint() !== 0) scan.special = true;
    } else if (field === WR_EVENTS && wire === 2) {
      const len = r.varint();
      starts.push(r.pos);
      ends.push(r.pos + len);
      r.pos += len;
    } else r.skip(wire);
  }
  if (scan.special) return scan;
  ev.watchId = scan.watchId;
  for (let i = 0; i < starts.length; i++) {
    ev.type = 0;
    ev.modRevision = 0;
    ev.keyStart = ev.keyEnd = ev.valueStart = ev.valueEnd = 0;
    const er = new Reader(buf, starts[i], ends[i]);
    while (er.pos < ends[i]) {
      const tag = er.varint();
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (field === EV_TYPE && wire === 0) ev.type = er.varint();
      else if (field === EV_KV && wire === 2) {
        const len = er.varint();
        scanKv(er, er.pos + len, ev);
      } else er.skip(wire);
    }
    scan.events++;
    onEvent(ev);
  }
  return scan;
}
