// etcdctl's exit codes (ctlv3/command/error.go) and the error that carries one up to main.

export const ExitCode = {
  Success: 0,
  Error: 1,
  BadConnection: 2,
  InvalidInput: 3,
  BadFeature: 4,
  Interrupted: 5,
  IO: 6,
  BadArgs: 128,
} as const;

/** Ends the command: main prints `Error: <message>` on stderr (unless message is undefined) and exits. */
export class ExitError extends Error {
  constructor(
    readonly code: number,
    readonly text: string | undefined,
  ) {
    super(text ?? `exit ${code}`);
  }
}

export function fail(code: number, text: string): never {
  throw new ExitError(code, text);
}
