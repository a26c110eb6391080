// File errors in Go's words (`open x: no such file or directory`), as etcd and etcdctl print them,
// for every command-line tool.

import { readFileSync } from 'node:fs';

const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
};

/** Go's text for a failed file operation; other errors keep their message. */
export function goFileError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const reason = err.code === undefined ? undefined : REASONS[err.code];
  if (reason !== undefined && err.path !== undefined) {
    const op = err.code === 'EISDIR' ? 'read' : (err.syscall ?? 'open');
    return `${op} ${err.path}: ${reason}`;
  }
  return e instanceof Error ? e.message : String(e);
}

/** Reads a whole file; a failure is thrown as an Error with Go's text. */
export function readFileGo(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(goFileError(e));
  }
}
