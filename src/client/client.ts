// The client: one object holding the connections and the typed services.

import { Auth } from './auth.js';
import { Cluster } from './cluster.js';
import { KV } from './kv.js';
import { Lease } from './lease.js';
import { Maintenance } from './maintenance.js';
import { Transport, type CallOptions, type TransportOptions } from './transport.js';
import { Watch } from './watch.js';

export type ConnectOptions = TransportOptions;

export class Client {
  readonly kv: KV;
  readonly watch: Watch;
  readonly lease: Lease;
  readonly cluster: Cluster;
  readonly maintenance: Maintenance;
  readonly auth: Auth;

  private constructor(private readonly transport: Transport) {
    this.kv = new KV(transport);
    this.watch = new Watch(transport);
    this.lease = new Lease(transport);
    this.cluster = new Cluster(transport);
    this.maintenance = new Maintenance(transport);
    this.auth = new Auth(transport);
  }

  /**
   * Creates a client. Connections are made lazily by the first call, like clientv3 without a blocking
   * dial: an unreachable endpoint shows up as the call's deadline passing.
   */
  static connect(options: ConnectOptions): Client {
    return new Client(new Transport(options));
  }

  /**
   * For a client given a user name and password: authenticates now (calls would do it on first use),
   * so that wrong credentials or an unreachable cluster show up here, as they do when clientv3
   * connects. Resolves at once without credentials, and without a token when auth is disabled.
   */
  login(call: CallOptions = {}): Promise<void> {
    return this.transport.login(call);
  }

  /** The endpoints as given (trimmed). */
  get endpoints(): readonly string[] {
    return this.transport.endpoints.map((e) => e.raw);
  }

  close(): void {
    this.transport.close();
  }
}
