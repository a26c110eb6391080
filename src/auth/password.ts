// Password hashing with bcrypt, etcd's choice: the stored hashes stay interchangeable with etcd's
// (snapshots go both ways). bcrypt is slow on purpose (cost 10: about 70 ms here), so only the
// asynchronous forms are used: they hand the event loop back while they work.

import bcrypt from 'bcryptjs';

/** etcd's --bcrypt-cost bounds and default (golang.org/x/crypto/bcrypt). */
export const BCRYPT_MIN_COST = 4;
export const BCRYPT_MAX_COST = 31;
export const BCRYPT_DEFAULT_COST = 10;

/** The hash as the raft entry carries it: base64 of the bcrypt string (etcd 3.5's hashedPassword). */
export async function hashPassword(password: string, cost: number): Promise<string> {
  const hash = await bcrypt.hash(password, cost);
  return Buffer.from(hash, 'latin1').toString('base64');
}

export function passwordMatches(password: string, storedHash: string): Promise<boolean> {
  return bcrypt.compare(password, storedHash);
}

/**
 * The stored bcrypt hash for a raft entry: the base64 hash it carries, or (an entry written by etcd
 * before 3.5, which carried the plain password) a hash made now. Only such old entries pay bcrypt
 * while applying; each member then stores its own salt, as etcd 3.4 members did.
 */
export function storedHash(password: string, hashedPassword: string, cost = BCRYPT_DEFAULT_COST): Uint8Array {
  if (hashedPassword === '' && password !== '') return Buffer.from(bcrypt.hashSync(password, cost), 'latin1');
  return Buffer.from(hashedPassword, 'base64');
}
