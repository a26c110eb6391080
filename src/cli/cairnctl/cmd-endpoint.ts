// endpoint health | status | hashkv, each per endpoint (or per member client URL with --cluster).

import type { Client } from '../../client/client.js';
import { EtcdError } from '../../client/errors.js';
import type { CommandSpec } from './command.js';
import { errorText, type Context } from './context.js';
import { ExitCode, ExitError, fail } from './exit.js';
import { goDuration } from './go-text.js';
import type { EpHashKV, EpHealth, EpStatus } from './printer.js';

/** The endpoints to visit: --endpoints, or with --cluster every client URL of the member list. */
export async function endpointsFromCluster(ctx: Context, cluster: boolean): Promise<string[]> {
  if (!cluster) return ctx.endpoints();
  ctx.applyEnvironment();
  const client = await ctx.client();
  try {
    const members = await client.cluster.list({ timeoutMs: ctx.commandTimeoutMs });
    return members.members.flatMap((m) => m.clientURLs);
  } catch (e) {
    fail(ExitCode.Error, `failed to fetch endpoints from etcd cluster member list: ${errorText(e)}`);
  }
}

const health: CommandSpec = {
  name: 'health',
  usage: 'health',
  short: 'Checks the healthiness of endpoints specified in `--endpoints` flag',
  run: async (ctx: Context) => {
    ctx.applyEnvironment();
    ctx.display();
    const eps = await endpointsFromCluster(ctx, ctx.flags.bool('cluster'));
    const results = await Promise.all(
      eps.map(async (ep): Promise<EpHealth> => {
        let client: Client;
        try {
          client = await ctx.client([ep]);
        } catch (e) {
          return { ep, health: false, took: '', error: errorText(e) };
        }
        const start = process.hrtime.bigint();
        let error = '';
        try {
          // Any linearizable read proves the member can reach consensus.
          await client.kv.range('health', {}, { timeoutMs: ctx.commandTimeoutMs });
        } catch (e) {
          // Permission denied also went through consensus: the member is healthy.
          if (!(e instanceof EtcdError && e.details === 'etcdserver: permission denied'))
            error = errorText(e);
        }
        const took = goDuration(process.hrtime.bigint() - start);
        return { ep, health: error === '', took, error };
      }),
    );
    ctx.display().endpointHealth(results);
    if (results.some((h) => h.error !== '')) fail(ExitCode.Error, 'unhealthy cluster');
  },
};

const status: CommandSpec = {
  name: 'status',
  usage: 'status',
  short: 'Prints out the status of endpoints specified in `--endpoints` flag',
  run: async (ctx: Context) => {
    const client = await ctx.client();
    const list: EpStatus[] = [];
    let failed = false;
    for (const ep of await endpointsFromCluster(ctx, ctx.flags.bool('cluster'))) {
      try {
        list.push({
          ep,
          resp: await client.maintenance.status({ endpoint: ep, timeoutMs: ctx.commandTimeoutMs }),
        });
      } catch (e) {
        failed = true;
        ctx.o.err(`Failed to get the status of endpoint ${ep} (${errorText(e)})\n`);
      }
    }
    ctx.display().endpointStatus(list);
    if (failed) throw new ExitError(ExitCode.Error, undefined);
  },
};

const hashkv: CommandSpec = {
  name: 'hashkv',
  usage: 'hashkv',
  short: 'Prints the KV history hash for each endpoint in --endpoints',
  flags: [
    { name: 'rev', kind: 'int64', def: '0', usage: 'maximum revision to hash (default: all revisions)' },
  ],
  run: async (ctx: Context) => {
    const client = await ctx.client();
    const rev = ctx.flags.int64('rev');
    const list: EpHashKV[] = [];
    let lastError: string | undefined;
    for (const ep of await endpointsFromCluster(ctx, ctx.flags.bool('cluster'))) {
      try {
        list.push({
          ep,
          resp: await client.maintenance.hashKV(rev, { endpoint: ep, timeoutMs: ctx.commandTimeoutMs }),
        });
      } catch (e) {
        lastError = errorText(e);
        ctx.o.err(`Failed to get the hash of endpoint ${ep} (${lastError})\n`);
      }
    }
    ctx.display().endpointHashKV(list);
    if (lastError !== undefined) fail(ExitCode.Error, lastError);
  },
};

export const CLUSTER_FLAG = {
  name: 'cluster',
  kind: 'bool',
  def: 'false',
  usage: 'use all endpoints from the cluster member list',
} as const;

export const endpointCommand: CommandSpec = {
  name: 'endpoint',
  usage: 'endpoint <subcommand>',
  short: 'Endpoint related commands',
  persistentFlags: [CLUSTER_FLAG],
  children: [health, status, hashkv],
};
