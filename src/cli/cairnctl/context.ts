// What a command gets: its arguments and flags, the output, and (built on first use, the way etcdctl's
// clientConfigFromCmd does: environment, credentials, then output format, then endpoints) the printer
// and the client.

import { X509Certificate, createPrivateKey } from 'node:crypto';
import { randomUUID } from 'node:crypto';

import { Client } from '../../client/client.js';
import type { EtcdError } from '../../client/errors.js';
import type { AttemptFailure, ClientTlsOptions } from '../../client/transport.js';
import { parseEndpoint } from '../../client/endpoints.js';
import { readFileGo } from '../go-errors.js';
import { ExitCode, ExitError, fail } from './exit.js';
import type { FlagSet } from './flags.js';
import { goJsonString, zapTimestamp } from './go-text.js';
import { applyEnv } from './globals.js';
import type { Output } from './output.js';
import { parseUserFlag, type UserCredentials } from './credentials.js';
import { askPassword } from './password.js';
import { FieldsPrinter } from './print-fields.js';
import { JsonPrinter } from './print-json.js';
import { ProtobufPrinter } from './print-protobuf.js';
import { SimplePrinter } from './print-simple.js';
import { TablePrinter } from './print-table.js';
import type { Printer } from './printer.js';
import { StdinReader } from './stdin-reader.js';

export interface ContextInit {
  readonly path: readonly string[];
  readonly args: string[];
  readonly flags: FlagSet;
  readonly env: NodeJS.ProcessEnv;
  readonly o: Output;
  /** The whole command line after the program name (watch looks for `--` in it). */
  readonly argv: readonly string[];
  readonly stdin: NodeJS.ReadableStream;
}

export class Context {
  readonly path: readonly string[];
  readonly args: string[];
  readonly flags: FlagSet;
  readonly env: NodeJS.ProcessEnv;
  readonly o: Output;
  readonly argv: readonly string[];
  readonly stdin: NodeJS.ReadableStream;
  private printer: Printer | undefined;
  private envApplied = false;
  private stdinReader: StdinReader | undefined;
  /** Resolved once per command: etcdctl asks for the password once even for several clients. */
  private userCredentials: Promise<UserCredentials | undefined> | undefined;
  private readonly clients: Client[] = [];
  /** clientv3 names each client `client-<uuid>`; its retry log shows it. */
  private readonly clientName = `client-${randomUUID()}`;

  constructor(init: ContextInit) {
    this.path = init.path;
    this.args = init.args;
    this.flags = init.flags;
    this.env = init.env;
    this.o = init.o;
    this.argv = init.argv;
    this.stdin = init.stdin;
  }

  get commandTimeoutMs(): number {
    return this.flags.duration('command-timeout');
  }

  /** Applies ETCDCTL_* once (watch also owns ETCDCTL_WATCH_KEY / _RANGE_END). */
  applyEnvironment(): void {
    if (this.envApplied) return;
    this.envApplied = true;
    applyEnv(this.flags, this.env, this.o, this.path[0] === 'watch' ? ['watch-key', 'watch-range-end'] : []);
  }

  /** The printer for -w / --hex ("unsupported output format", exit 4, for an unknown name). */
  display(): Printer {
    if (this.printer === undefined) {
      const isHex = this.flags.has('hex') && this.flags.bool('hex');
      const format = this.flags.string('write-out');
      switch (format) {
        case 'simple':
          this.printer = new SimplePrinter(this.o, isHex);
          break;
        case 'fields':
          this.printer = new FieldsPrinter(this.o);
          break;
        case 'json':
          this.printer = new JsonPrinter(this.o);
          break;
        case 'protobuf':
          this.printer = new ProtobufPrinter(this.o);
          break;
        case 'table':
          this.printer = new TablePrinter(this.o);
          break;
        default:
          fail(ExitCode.BadFeature, 'unsupported output format');
      }
    }
    return this.printer;
  }

  endpoints(): string[] {
    return this.flags.stringSlice('endpoints').map((e) => e.trim());
  }

  /** Standard input, shared by password prompts and commands that read it. */
  get reader(): StdinReader {
    this.stdinReader ??= new StdinReader(this.stdin);
    return this.stdinReader;
  }

  /** The credentials of --user / --password (ETCDCTL_USER / _PASSWORD), prompting "Password: " if needed. */
  credentials(): Promise<UserCredentials | undefined> {
    this.applyEnvironment();
    this.userCredentials ??= (async () => {
      if (!this.flags.has('user')) return undefined;
      const parsed = parseUserFlag(this.flags.string('user'), this.flags.string('password'));
      if (parsed === undefined) return undefined;
      const password = parsed.password ?? (await askPassword(this, 'Password: '));
      return { username: parsed.username, password };
    })();
    return this.userCredentials;
  }

  /**
   * A client for the global endpoints (or the given ones), after applying the environment and -w.
   * With --user it authenticates before returning, as clientv3 does while connecting: wrong
   * credentials end the command here with exit code 2.
   */
  async client(endpoints?: readonly string[]): Promise<Client> {
    this.applyEnvironment();
    const credentials = await this.credentials();
    this.display();
    const eps = endpoints ?? this.endpoints();
    let first: string;
    try {
      first = parseEndpoint(eps[0] ?? '').address;
    } catch (e) {
      fail(ExitCode.Error, e instanceof Error ? e.message : String(e));
    }
    const target = `endpoint://${this.clientName}/${first}`;
    let tls: ClientTlsOptions | undefined;
    try {
      tls = this.tlsOptions();
    } catch (e) {
      fail(ExitCode.BadArgs, e instanceof Error ? e.message : String(e));
    }
    let client: Client;
    try {
      client = Client.connect({
        endpoints: eps,
        tls,
        dialTimeoutMs: this.flags.duration('dial-timeout'),
        keepaliveTimeMs: this.flags.duration('keepalive-time'),
        keepaliveTimeoutMs: this.flags.duration('keepalive-timeout'),
        onAttemptFailed: (f) => this.logRetry(target, f),
        username: credentials?.username,
        password: credentials?.password,
      });
    } catch (e) {
      fail(ExitCode.BadConnection, e instanceof Error ? e.message : String(e));
    }
    this.clients.push(client);
    try {
      await client.login({ timeoutMs: this.flags.duration('dial-timeout') });
    } catch (e) {
      fail(ExitCode.BadConnection, errorText(e));
    }
    return client;
  }

  /**
   * TLS from --cacert / --cert / --key / --insecure-transport / --insecure-skip-tls-verify, as etcdctl's
   * newClientCfg builds it: any of the three files means TLS; --insecure-transport=false alone means TLS
   * with the default roots; --insecure-skip-tls-verify only matters once TLS is on. Throws etcdctl's
   * texts for unreadable or mismatched files.
   */
  private tlsOptions(): ClientTlsOptions | undefined {
    const cacert = this.flags.string('cacert');
    const cert = this.flags.string('cert');
    const key = this.flags.string('key');
    const skipVerify = this.flags.bool('insecure-skip-tls-verify');
    if (cacert === '' && cert === '' && key === '') {
      if (this.flags.bool('insecure-transport')) return undefined;
      return { insecureSkipVerify: skipVerify };
    }
    if ((cert === '') !== (key === '')) {
      throw new Error(`KeyFile and CertFile must both be present[key: ${key}, cert: ${cert}]`);
    }
    const options: { ca?: Buffer; cert?: Buffer; key?: Buffer; insecureSkipVerify: boolean } = {
      insecureSkipVerify: skipVerify,
    };
    if (cert !== '') {
      options.cert = readFileGo(cert);
      options.key = readFileGo(key);
      let matches = false;
      try {
        matches = new X509Certificate(options.cert).checkPrivateKey(createPrivateKey(options.key));
      } catch {
        throw new Error('tls: failed to find any PEM data in certificate input');
      }
      if (!matches) throw new Error('tls: private key does not match public key');
    }
    if (cacert !== '') options.ca = readFileGo(cacert);
    return options;
  }

  /**
   * clientv3's retry interceptor logs every failed unary attempt as a zap JSON line on stderr; etcdctl
   * users see it before each `Error:` line, so cairnctl writes the same line (timestamp and client
   * name differ per run, as they do for etcdctl).
   */
  private logRetry(target: string, f: AttemptFailure): void {
    const error =
      f.error.local && f.error.connectionFailed
        ? 'rpc error: code = DeadlineExceeded desc = latest balancer error: all SubConns are in TransientFailure'
        : f.error.grpcText;
    this.o.err(
      `{"level":"warn","ts":${goJsonString(zapTimestamp(new Date()))},"caller":"clientv3/retry_interceptor.go:62",` +
        `"msg":"retrying of unary invoker failed","target":${goJsonString(target)},"attempt":${f.attempt},` +
        `"error":${goJsonString(error)}}\n`,
    );
  }

  /** Awaits a client call; a failure ends the command with `code` and the error text (optionally wrapped). */
  async call<T>(p: Promise<T>, code: number = ExitCode.Error, wrap?: (text: string) => string): Promise<T> {
    try {
      return await p;
    } catch (e) {
      const text = errorText(e);
      fail(code, wrap === undefined ? text : wrap(text));
    }
  }

  close(): void {
    for (const c of this.clients) c.close();
    this.clients.length = 0;
  }

  /** Reads all of stdin (what a password prompt has not taken). */
  readStdin(): Promise<Buffer> {
    return this.reader.readAll();
  }
}

/** The text etcdctl prints for a failed client call (typed etcd errors bare, others as gRPC status text). */
export function errorText(e: unknown): string {
  if (e instanceof ExitError) return e.text ?? '';
  if (e instanceof Error) return (e as EtcdError).message;
  return String(e);
}
