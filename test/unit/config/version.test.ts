// The version printed by --version must follow package.json.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CAIRN_VERSION } from '../../../src/config/index.js';

test('CAIRN_VERSION equals package.json version', () => {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8'));
  assert.ok(typeof pkg === 'object' && pkg !== null && 'version' in pkg);
  assert.equal(pkg.version, CAIRN_VERSION);
});
