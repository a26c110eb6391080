// The `table` format, which etcdctl offers only for member list and the endpoint commands.

import type { MemberListResponse } from '../../proto/etcdserverpb/rpc.js';
import type { Output } from './output.js';
import { Printer, type EpHashKV, type EpHealth, type EpStatus, type SnapshotStatus } from './printer.js';
import { dbStatusRows, hashKVRows, healthRows, memberRows, statusRows, type Rows } from './rows.js';
import { renderTable } from './table.js';

export class TablePrinter extends Printer {
  constructor(o: Output) {
    super(o, 'table');
  }

  private table({ headers, rows }: Rows): void {
    this.o.out(renderTable(headers, rows));
  }

  override memberList(r: MemberListResponse): void {
    this.table(memberRows(r));
  }
  override endpointHealth(list: readonly EpHealth[]): void {
    this.table(healthRows(list));
  }
  override endpointStatus(list: readonly EpStatus[]): void {
    this.table(statusRows(list));
  }
  override endpointHashKV(list: readonly EpHashKV[]): void {
    this.table(hashKVRows(list));
  }
  override dbStatus(s: SnapshotStatus): void {
    this.table(dbStatusRows(s));
  }
}
