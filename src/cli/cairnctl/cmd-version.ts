// version: cairnctl speaks etcdctl 3.4's interface and the v3.4 API, and says so in etcdctl's words so
// that scripts parsing `etcdctl version` keep working.

import type { CommandSpec } from './command.js';
import type { Context } from './context.js';

export const ETCDCTL_VERSION = '3.4.23';
export const API_VERSION = '3.4';

export const versionCommand: CommandSpec = {
  name: 'version',
  usage: 'version',
  short: 'Prints the version of etcdctl',
  run: async (ctx: Context) => {
    ctx.o.out(`etcdctl version: ${ETCDCTL_VERSION}\nAPI version: ${API_VERSION}\n`);
  },
};
