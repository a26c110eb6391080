// What the client port needs from a logger; the member adapts its own (pino) logger to this.

export interface ClientPortLogger {
  info(msg: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(msg: string, fields?: Readonly<Record<string, unknown>>): void;
}

export const silentLogger: ClientPortLogger = { info() {}, warn() {} };
