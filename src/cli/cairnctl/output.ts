// Where the command writes. Writes are synchronous so that output is complete when the process exits
// and ordered between stdout and stderr as etcdctl's unbuffered writes are.

import { writeSync } from 'node:fs';

export interface Output {
  out(data: string | Uint8Array): void;
  err(data: string | Uint8Array): void;
}

function writeAll(fd: number, data: string | Uint8Array): void {
  let buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  while (buf.length > 0) {
    try {
      const n = writeSync(fd, buf);
      buf = buf.subarray(n);
    } catch (e) {
      // A non-blocking pipe that is full: try again (the reader drains it).
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}

export const processOutput: Output = {
  out: (data) => writeAll(1, data),
  err: (data) => writeAll(2, data),
};
