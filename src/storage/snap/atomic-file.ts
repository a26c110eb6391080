// Durable, atomic replacement of a whole file: the new content becomes visible under `path` all at
// once, or not at all, even if the process or the machine dies half way.
//
//   1. write the content to `<path>.tmp` (created or truncated), fsync it, close it;
//   2. rename `<path>.tmp` over `path` (atomic on POSIX file systems);
//   3. fsync the directory, so the rename itself survives a power cut.
//
// A crash before step 2 leaves at most a stray `<path>.tmp`, which readers ignore and the owner
// removes at its next start (see removeStaleTempFiles). A crash after step 2 but before step 3 may
// lose the rename on power loss, leaving the previous state, which is still consistent.

import { open, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const TEMP_SUFFIX = '.tmp';

/** Test seams: called between the steps above (a crash test kills the process in one of them). */
export interface AtomicWriteHooks {
  readonly beforeRename?: () => void | Promise<void>;
}

/** fsyncs a file or a directory (a directory's fsync makes the names in it durable). */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export const fsyncDir = fsyncPath;

/** Writes `data` to `path` atomically and durably (see the top of this file). */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array,
  mode = 0o666,
  hooks: AtomicWriteHooks = {},
): Promise<void> {
  const tmp = path + TEMP_SUFFIX;
  const dir = dirname(path);
  const handle = await open(tmp, 'w', mode);
  try {
    let off = 0;
    while (off < data.byteLength) {
      const { bytesWritten } = await handle.write(data, off, data.byteLength - off);
      off += bytesWritten;
    }
    await handle.sync();
  } catch (e) {
    await handle.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  await handle.close();
  try {
    await hooks.beforeRename?.();
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dir);
}

/** Removes `*<suffix>.tmp` leftovers of interrupted atomic writes in `dir`; returns their names. */
export async function removeStaleTempFiles(dir: string, suffix: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir)) {
    if (name.endsWith(suffix + TEMP_SUFFIX)) {
      await rm(join(dir, name), { force: true });
      removed.push(name);
    }
  }
  return removed;
}
