// The `simple` texts of the user and role commands. Keys are printed as their raw bytes (etcdctl
// prints them with %s), so these build Buffers rather than strings.

import { prefixEnd } from '../../client/bytes.js';
import { Permission_Type, type Permission } from '../../proto/authpb/auth.js';

const text = (s: string): Buffer => Buffer.from(s, 'utf8');

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

function isFromKeyEnd(end: Uint8Array): boolean {
  return end.length === 1 && end[0] === 0;
}

/**
 * One permission line of `role get`: a single key as `\tk1`, a range as `\t[a, z)`, an open range as
 * `\t[a, <open ended>`, with ` (prefix a)` after any range that is exactly a prefix.
 */
export function permissionLine(perm: Permission): Buffer {
  const { key, rangeEnd } = perm;
  if (rangeEnd.length === 0) return Buffer.concat([text('\t'), key, text('\n')]);
  const parts: Uint8Array[] = [text('\t['), key];
  if (isFromKeyEnd(rangeEnd)) parts.push(text(', <open ended>'));
  else parts.push(text(', '), rangeEnd, text(')'));
  if (sameBytes(prefixEnd(key), rangeEnd)) parts.push(text(' (prefix '), key, text(')'));
  parts.push(text('\n'));
  return Buffer.concat(parts);
}

const READS = new Set([Permission_Type.READ, Permission_Type.READWRITE]);
const WRITES = new Set([Permission_Type.WRITE, Permission_Type.READWRITE]);

/** `role get`: the role, then its read and its write permissions in the server's order. */
export function roleText(role: string, perms: readonly Permission[]): Buffer {
  const lines: Buffer[] = [text(`Role ${role}\nKV Read:\n`)];
  for (const p of perms) if (READS.has(p.permType)) lines.push(permissionLine(p));
  lines.push(text('KV Write:\n'));
  for (const p of perms) if (WRITES.has(p.permType)) lines.push(permissionLine(p));
  return Buffer.concat(lines);
}

/** `role revoke-permission`: what was revoked, named as the command line gave it. */
export function revokedText(role: string, key: string, rangeEnd: Uint8Array): Buffer {
  if (rangeEnd.length === 0) return text(`Permission of key ${key} is revoked from role ${role}\n`);
  if (isFromKeyEnd(rangeEnd)) {
    return text(`Permission of range [${key}, <open ended> is revoked from role ${role}\n`);
  }
  return Buffer.concat([
    text(`Permission of range [${key}, `),
    rangeEnd,
    text(`) is revoked from role ${role}\n`),
  ]);
}

/** `user get` without --detail: `User: alice` then `Roles: r1 r2` (`Roles:` alone for none). */
export function userText(name: string, roles: readonly string[]): string {
  return `User: ${name}\nRoles:${roles.map((r) => ` ${r}`).join('')}\n`;
}
