// The connection layer: one gRPC channel per endpoint, unary calls with a deadline that move to the next
// endpoint when one cannot serve (as clientv3's balancer and retry interceptor do), and stream opening.

import {
  type ChannelCredentials,
  Client as GrpcClient,
  connectivityState,
  credentials,
  Metadata,
  status as Status,
} from '@grpc/grpc-js';
import type { ClientDuplexStream, ClientReadableStream } from '@grpc/grpc-js';

import { AuthService } from '../proto/etcdserverpb/rpc.js';
import { parseEndpoint, type Endpoint } from './endpoints.js';
import {
  CANCELED_MESSAGE,
  DEADLINE_EXCEEDED_MESSAGE,
  EtcdError,
  isUnavailable,
  toEtcdError,
} from './errors.js';
import { AuthToken, needsNewToken, type Credentials, type FetchLimits } from './token.js';

/** The parts of a generated service method definition a call needs. */
export interface MethodDefinition<Req, Res> {
  readonly path: string;
  readonly requestSerialize: (value: Req) => Buffer;
  readonly responseDeserialize: (value: Buffer) => Res;
}

export interface AttemptFailure {
  /** gRPC method path, e.g. `/etcdserverpb.KV/Put`. */
  readonly method: string;
  /** The endpoint the attempt went to (as the user wrote it). */
  readonly endpoint: string;
  /** 0 for the first attempt of the call. */
  readonly attempt: number;
  readonly error: EtcdError;
}

/** TLS for the connections (etcdctl's --cacert, --cert, --key, --insecure-skip-tls-verify); PEM bytes. */
export interface ClientTlsOptions {
  /** CA bundle for the servers' certificates (absent: Node's default roots). */
  readonly ca?: Buffer;
  /** Client certificate and key, for servers that want one (--client-cert-auth). */
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Accept any server certificate (encrypted, not authenticated). */
  readonly insecureSkipVerify?: boolean;
}

export interface TransportOptions {
  readonly endpoints: readonly string[];
  /**
   * TLS settings. Endpoints written `https://` always use TLS, `http://` never; a bare `host:port` uses
   * TLS when this is given (as clientv3 does with a TLS config).
   */
  readonly tls?: ClientTlsOptions;
  /** How long to wait for one endpoint's connection before trying the next (default 2000). */
  readonly dialTimeoutMs?: number;
  /** gRPC keepalive ping interval (at least 5000, etcd's minimum) / timeout (defaults 2000 / 6000, etcdctl's). */
  readonly keepaliveTimeMs?: number;
  readonly keepaliveTimeoutMs?: number;
  /** Deadline for calls that give none (default: none). */
  readonly defaultTimeoutMs?: number;
  /** Called once per failed attempt of a unary call (clientv3 logs these as "retrying of unary invoker failed"). */
  readonly onAttemptFailed?: (failure: AttemptFailure) => void;
  /**
   * Credentials for servers with auth enabled. As with clientv3, they are used only when both are
   * non-empty: the client then authenticates on first use and sends the token with every call and stream.
   */
  readonly username?: string;
  readonly password?: string;
}

export interface CallOptions {
  /** Deadline relative to the start of the call; overrides the client default. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Send the call to this endpoint only (maintenance calls address one member). */
  readonly endpoint?: string;
}

interface UnaryOptions extends CallOptions {
  /** Safe to repeat on another endpoint after an Unavailable answer (reads only, like clientv3). */
  readonly retryUnavailable?: boolean;
  /** Send no token and never authenticate for this call (Authenticate itself). */
  readonly anonymous?: boolean;
}

/** etcd's default server-side minimum interval between client pings. */
const MIN_KEEPALIVE_MS = 5000;

/** Backoff between rounds over all endpoints when none could be reached. */
const RETRY_BACKOFF_MS = 50;

export class Transport {
  readonly endpoints: readonly Endpoint[];
  private readonly channels = new Map<string, GrpcClient>();
  private readonly dialTimeoutMs: number;
  private readonly options: TransportOptions;
  /** Index of the endpoint that answered last: calls start there. */
  private preferred = 0;
  private closed = false;
  /** Present when the client has credentials. */
  private readonly authToken: AuthToken | undefined;

  constructor(options: TransportOptions) {
    if (options.endpoints.length === 0) throw new Error('no endpoints given');
    this.endpoints = options.endpoints.map(parseEndpoint);
    this.dialTimeoutMs = options.dialTimeoutMs ?? 2000;
    this.options = options;
    const { username = '', password = '' } = options;
    if (username !== '' && password !== '') {
      this.authToken = new AuthToken({ username, password }, (c, limits) => this.fetchToken(c, limits));
    }
  }

  /**
   * Fetches the token now unless one is held, so that bad credentials fail here rather than at the
   * first call (clientv3 authenticates while connecting). Resolves without a token when the server
   * has auth disabled; does nothing for a client without credentials.
   */
  async login(options: CallOptions = {}): Promise<void> {
    await this.authToken?.current({ deadline: this.deadlineOf(options), signal: options.signal });
  }

  private async fetchToken(credentials: Credentials, limits: FetchLimits): Promise<string> {
    const timeoutMs = Number.isFinite(limits.deadline)
      ? Math.max(0, limits.deadline - Date.now())
      : undefined;
    const request = { name: credentials.username, password: credentials.password };
    const res = await this.unary(AuthService.authenticate, request, {
      timeoutMs,
      signal: limits.signal,
      anonymous: true,
    });
    return res.token;
  }

  /** The metadata of a call: the token when there is one. */
  private async authMetadata(
    anonymous: boolean,
    limits: FetchLimits,
  ): Promise<{ token: string; metadata: Metadata }> {
    const token = anonymous || this.authToken === undefined ? '' : await this.authToken.current(limits);
    const metadata = new Metadata();
    if (token !== '') metadata.set('token', token);
    return { token, metadata };
  }

  close(): void {
    this.closed = true;
    for (const ch of this.channels.values()) ch.close();
    this.channels.clear();
  }

  private channel(ep: Endpoint): GrpcClient {
    let ch = this.channels.get(ep.address);
    if (ch === undefined) {
      ch = new GrpcClient(ep.address, this.credentialsFor(ep), {
        // etcd's servers refuse pings more frequent than every 5 s (--grpc-keepalive-min-time) with
        // GOAWAY "too_many_pings", which kills open watches: never ping more often than that.
        'grpc.keepalive_time_ms': Math.max(this.options.keepaliveTimeMs ?? 2000, MIN_KEEPALIVE_MS),
        'grpc.keepalive_timeout_ms': this.options.keepaliveTimeoutMs ?? 6000,
        // etcd accepts requests up to 1.5 MiB + overhead; answers may be large (whole ranges).
        'grpc.max_receive_message_length': 2 ** 31 - 1,
        'grpc.max_send_message_length': 2 ** 31 - 1,
        // Failures are reported to the caller quickly so it can move to the next endpoint.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
      });
      this.channels.set(ep.address, ch);
    }
    return ch;
  }

  private credentialsFor(ep: Endpoint): ChannelCredentials {
    const tls = this.options.tls;
    const secure = ep.scheme === 'https' || (ep.scheme === undefined && tls !== undefined);
    if (!secure) return credentials.createInsecure();
    const verify =
      tls?.insecureSkipVerify === true
        ? { rejectUnauthorized: false, checkServerIdentity: () => undefined }
        : {};
    return credentials.createSsl(tls?.ca ?? null, tls?.key ?? null, tls?.cert ?? null, verify);
  }

  private deadlineOf(options: CallOptions): number {
    const ms = options.timeoutMs ?? this.options.defaultTimeoutMs;
    return ms === undefined ? Number.POSITIVE_INFINITY : Date.now() + ms;
  }

  private candidates(options: CallOptions): Endpoint[] {
    if (options.endpoint !== undefined) {
      const pinned = parseEndpoint(options.endpoint);
      return [this.endpoints.find((e) => e.address === pinned.address) ?? pinned];
    }
    const n = this.endpoints.length;
    return Array.from({ length: n }, (_, i) => this.endpoints[(this.preferred + i) % n]);
  }

  /** Resolves true once the channel is READY, false if it failed to connect or the wait ran out. */
  private connect(ch: GrpcClient, until: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.closed) return resolve(false);
        const state = ch.getChannel().getConnectivityState(true);
        if (state === connectivityState.READY) return resolve(true);
        if (state === connectivityState.TRANSIENT_FAILURE || state === connectivityState.SHUTDOWN) {
          return resolve(false);
        }
        if (Date.now() >= until) return resolve(false);
        ch.getChannel().watchConnectivityState(state, until, (err?: Error) =>
          err ? resolve(false) : check(),
        );
      };
      check();
    });
  }

  /**
   * Finds a connected endpoint among the candidates, going round them until the deadline.
   * Returns undefined when the deadline passed first.
   */
  private async readyEndpoint(
    candidates: readonly Endpoint[],
    deadline: number,
    signal: AbortSignal | undefined,
    skip: ReadonlySet<string> = new Set(),
  ): Promise<Endpoint | undefined> {
    for (;;) {
      for (const ep of candidates) {
        if (skip.has(ep.address)) continue;
        if (signal?.aborted) throw new EtcdError(Status.CANCELLED, CANCELED_MESSAGE, { local: true });
        if (Date.now() >= deadline) return undefined;
        const ch = this.channel(ep);
        if (await this.connect(ch, Math.min(deadline, Date.now() + this.dialTimeoutMs))) return ep;
      }
      if (Date.now() >= deadline || this.closed) return undefined;
      await sleep(Math.min(RETRY_BACKOFF_MS, deadline - Date.now()), signal);
    }
  }

  async unary<Req, Res>(
    method: MethodDefinition<Req, Res>,
    request: Req,
    options: UnaryOptions = {},
  ): Promise<Res> {
    if (this.closed)
      throw new EtcdError(Status.CANCELLED, 'grpc: the client connection is closing', { local: true });
    const deadline = this.deadlineOf(options);
    const limits = { deadline, signal: options.signal };
    const candidates = this.candidates(options);
    const tried = new Set<string>();
    const anonymous = options.anonymous === true;
    let auth = await this.authMetadata(anonymous, limits);
    let tokenRefreshed = false;
    let attempt = 0;
    for (;;) {
      const ep = await this.readyEndpoint(candidates, deadline, options.signal, tried);
      if (ep === undefined) {
        const error = new EtcdError(Status.DEADLINE_EXCEEDED, DEADLINE_EXCEEDED_MESSAGE, {
          local: true,
          connectionFailed: attempt === 0,
        });
        this.options.onAttemptFailed?.({ method: method.path, endpoint: candidates[0].raw, attempt, error });
        throw error;
      }
      try {
        const res = await this.invoke(this.channel(ep), method, request, auth.metadata, limits);
        const index = this.endpoints.indexOf(ep);
        if (index >= 0) this.preferred = index;
        return res;
      } catch (e) {
        const error = toEtcdError(e);
        this.options.onAttemptFailed?.({ method: method.path, endpoint: ep.raw, attempt, error });
        attempt++;
        if (!anonymous && !tokenRefreshed && this.authToken !== undefined && needsNewToken(error)) {
          // Once per call, as clientv3's retry interceptor does: a second refusal is the answer.
          tokenRefreshed = true;
          await this.authToken.refresh(auth.token, limits);
          auth = await this.authMetadata(false, limits);
          continue;
        }
        if (!(isUnavailable(error) && options.retryUnavailable === true)) throw error;
        // A read may be repeated elsewhere; once every endpoint refused, start over after a pause.
        tried.add(ep.address);
        if (tried.size >= candidates.length) {
          tried.clear();
          await sleep(Math.min(RETRY_BACKOFF_MS, Math.max(0, deadline - Date.now())), options.signal);
        }
      }
    }
  }

  private invoke<Req, Res>(
    ch: GrpcClient,
    method: MethodDefinition<Req, Res>,
    request: Req,
    metadata: Metadata,
    { deadline, signal }: FetchLimits,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      const callOptions = Number.isFinite(deadline) ? { deadline } : {};
      let aborted = false;
      const call = ch.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        callOptions,
        (err, value) => {
          signal?.removeEventListener('abort', onAbort);
          if (err !== null) {
            if (err.code === Status.DEADLINE_EXCEEDED && Date.now() >= deadline) {
              reject(new EtcdError(Status.DEADLINE_EXCEEDED, DEADLINE_EXCEEDED_MESSAGE, { local: true }));
            } else if (err.code === Status.CANCELLED && aborted) {
              reject(new EtcdError(Status.CANCELLED, CANCELED_MESSAGE, { local: true }));
            } else reject(toEtcdError(err));
          } else if (value === undefined) reject(new EtcdError(Status.INTERNAL, 'empty response'));
          else resolve(value);
        },
      );
      const onAbort = (): void => {
        aborted = true;
        call.cancel();
      };
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Opens a bidirectional stream on the first endpoint that connects (within the dial timeout per endpoint). */
  async bidi<Req, Res>(
    method: MethodDefinition<Req, Res>,
    metadata: Record<string, string> = {},
    options: CallOptions = {},
  ): Promise<ClientDuplexStream<Req, Res>> {
    const { token, metadata: md } = await this.streamAuth(options);
    for (const [k, v] of Object.entries(metadata)) md.set(k, v);
    const ch = await this.streamChannel(options);
    const call = ch.makeBidiStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      md,
    );
    return this.watchToken(call, token);
  }

  /** Opens a server stream on the first endpoint that connects. */
  async serverStream<Req, Res>(
    method: MethodDefinition<Req, Res>,
    request: Req,
    options: CallOptions = {},
  ): Promise<ClientReadableStream<Res>> {
    const { token, metadata } = await this.streamAuth(options);
    const ch = await this.streamChannel(options);
    const call = ch.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      metadata,
    );
    return this.watchToken(call, token);
  }

  /** The token of a new stream, fetched within the time allowed for opening it. */
  private streamAuth(options: CallOptions): Promise<{ token: string; metadata: Metadata }> {
    return this.authMetadata(false, { deadline: this.streamDeadline(options), signal: options.signal });
  }

  /**
   * A stream refused for its token cannot be retried here (its consumer owns it), but the token is
   * dropped so that the consumer's next call or stream authenticates again.
   */
  private watchToken<S extends ClientReadableStream<unknown> | ClientDuplexStream<unknown, unknown>>(
    call: S,
    token: string,
  ): S {
    if (this.authToken !== undefined) {
      const authToken = this.authToken;
      call.on('error', (e: unknown) => {
        if (needsNewToken(toEtcdError(e))) authToken.invalidate(token);
      });
    }
    return call;
  }

  private streamDeadline(options: CallOptions): number {
    return this.deadlineOf({ timeoutMs: options.timeoutMs ?? this.dialTimeoutMs });
  }

  private async streamChannel(options: CallOptions): Promise<GrpcClient> {
    const deadline = this.streamDeadline(options);
    const ep = await this.readyEndpoint(this.candidates(options), deadline, options.signal);
    if (ep === undefined) {
      throw new EtcdError(Status.DEADLINE_EXCEEDED, DEADLINE_EXCEEDED_MESSAGE, {
        local: true,
        connectionFailed: true,
      });
    }
    return this.channel(ep);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
