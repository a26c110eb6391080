// Top functions by self time of a V8 .cpuprofile (as written by `node --cpu-prof`), to read where a
// cairn member spends its CPU in a benchmark (put.ts --cpu-prof-dir=DIR profiles every member).
//
//   node dist/bench/cluster/cpu-profile.js FILE.cpuprofile [--top=25]

import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

import { intFlag } from '../flags.js';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

interface FunctionTime {
  readonly name: string;
  readonly where: string;
  readonly selfMs: number;
  readonly share: number;
}

/** Self time per function (same name and location pooled), largest first. */
function selfTimes(p: Profile): { total: number; functions: FunctionTime[] } {
  const byNode = new Map<number, ProfileNode>(p.nodes.map((n) => [n.id, n]));
  const micros = new Map<string, { name: string; where: string; us: number }>();
  let total = 0;
  // timeDeltas[i] is the time before sample i; charge it to the sample's node.
  for (let i = 0; i < p.samples.length; i++) {
    const node = byNode.get(p.samples[i]);
    const dt = p.timeDeltas[i] ?? 0;
    if (node === undefined || dt < 0) continue;
    total += dt;
    const f = node.callFrame;
    const where = f.url === '' ? '' : `${shortUrl(f.url)}:${f.lineNumber + 1}`;
    const key = `${f.functionName}@${where}`;
    const entry = micros.get(key) ?? { name: f.functionName || '(anonymous)', where, us: 0 };
    entry.us += dt;
    micros.set(key, entry);
  }
  const functions = [...micros.values()]
    .sort((a, b) => b.us - a.us)
    .map((e) => ({ name: e.name, where: e.where, selfMs: e.us / 1000, share: total > 0 ? e.us / total : 0 }));
  return { total: total / 1000, functions };
}

/** Which part of the program a function belongs to: a Cairn module, a package, Node's http2, ... */
function areaOf(f: FunctionTime): string {
  if (f.where === '') return f.name.startsWith('(') ? f.name : 'native (no script)';
  const cairn = /^(?:.*\/)?dist\/src\/([^/]+)\//.exec(f.where);
  if (cairn !== null) return cairn[1] === 'proto' ? 'protobuf codecs (src/proto)' : `cairn src/${cairn[1]}`;
  const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f.where);
  if (pkg !== null) return pkg[1];
  const core = /^node:internal\/([^/:]+)/.exec(f.where);
  if (core !== null) return `node:${core[1]}`;
  return f.where.startsWith('node:') ? `node:${f.where.split(':')[1]}` : 'other';
}

function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  if (path.startsWith('node:')) return path;
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) return path.slice(nm + 1);
  return relative(process.cwd(), path);
}

function main(): void {
  const file = process.argv.slice(2).find((a) => !a.startsWith('--'));
  if (file === undefined) throw new Error('usage: cpu-profile.js FILE.cpuprofile [--top=25]');
  const top = intFlag('top', 25);
  const { total, functions } = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as Profile);
  console.log(`${file}: ${(total / 1000).toFixed(1)} s sampled`);
  console.log('| self % | self ms | function | where |');
  console.log('|---:|---:|---|---|');
  for (const f of functions.slice(0, top)) {
    console.log(`| ${(f.share * 100).toFixed(1)} | ${f.selfMs.toFixed(0)} | ${f.name} | ${f.where} |`);
  }
  // Self time is spread thin over many functions: pooled by area it says more.
  const areas = new Map<string, number>();
  for (const f of functions) areas.set(areaOf(f), (areas.get(areaOf(f)) ?? 0) + f.selfMs);
  console.log('\n| self % | self ms | area |');
  console.log('|---:|---:|---|');
  for (const [area, selfMs] of [...areas].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`| ${((selfMs / total) * 100).toFixed(1)} | ${selfMs.toFixed(0)} | ${area} |`);
  }
}

main();
