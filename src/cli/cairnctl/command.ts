// The shape of a command in the command tree.

import type { Context } from './context.js';
import type { FlagSpec } from './flags.js';

export interface CommandSpec {
  readonly name: string;
  readonly usage?: string;
  readonly short?: string;
  readonly flags?: readonly FlagSpec[];
  /** Flags inherited by the subcommands (e.g. `endpoint --cluster`). */
  readonly persistentFlags?: readonly FlagSpec[];
  readonly run?: (ctx: Context) => Promise<void>;
  readonly children?: readonly CommandSpec[];
}
