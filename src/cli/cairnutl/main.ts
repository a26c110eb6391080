// cairnutl: etcdutl's offline administration of data dirs and snapshot files (snapshot status and
// restore, backup, defrag, inspect), on cairnctl's command-line framework.

import { pathToFileURL } from 'node:url';

import { main as runMain, type Program } from '../cairnctl/main.js';
import { CAIRNUTL_ROOT, CAIRNUTL_GLOBALS } from './commands.js';

export const CAIRNUTL: Program = { name: 'cairnutl', root: CAIRNUTL_ROOT, globals: CAIRNUTL_GLOBALS };

export function main(): Promise<void> {
  return runMain(CAIRNUTL);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
