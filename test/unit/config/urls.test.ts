// URL lists: accept/reject decisions and texts observed from etcd 3.4.23 (see etcd-compare.test.ts).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkBindUrls, checkHostUrls, parseUrlList } from '../../../src/config/urls.js';

describe('URL lists', () => {
  test('valid lists are trimmed, sorted and deduplicated; schemes lower-cased', () => {
    assert.deepEqual(parseUrlList('http://b:2,http://a:1, http://a:1'), {
      ok: true,
      urls: ['http://a:1', 'http://b:2'],
    });
    assert.deepEqual(parseUrlList('HTTPS://[::1]:2379'), { ok: true, urls: ['https://[::1]:2379'] });
    assert.deepEqual(parseUrlList('unix://sock:1'), { ok: true, urls: ['unix://sock:1'] });
  });

  test('rejections carry etcd texts', () => {
    const cases: [string, string][] = [
      ['localhost:2379', 'URL scheme must be http, https, unix, or unixs: localhost:2379'],
      ['127.0.0.1:2379', 'parse "127.0.0.1:2379": first path segment in URL cannot contain colon'],
      ['http://127.0.0.1', 'URL address does not have the form "host:port": http://127.0.0.1'],
      ['http://127.0.0.1:2379/path', 'URL must not contain a path: http://127.0.0.1:2379/path'],
      ['http://1.2.3.4:2379/', 'URL must not contain a path: http://1.2.3.4:2379/'],
      ['ftp://1.2.3.4:5', 'URL scheme must be http, https, unix, or unixs: ftp://1.2.3.4:5'],
      [':2379', 'parse ":2379": missing protocol scheme'],
      ['http://a b:1', 'parse "http://a b:1": invalid character " " in host name'],
      ['http://1.2.3.4:abc', 'parse "http://1.2.3.4:abc": invalid port ":abc" after host'],
      ['%zz', 'parse "%zz": invalid URL escape "%zz"'],
      ['', 'URL scheme must be http, https, unix, or unixs: '],
    ];
    for (const [input, error] of cases) assert.deepEqual(parseUrlList(input), { ok: false, error }, input);
  });

  test('bind URLs need an IP or localhost; advertised URLs need a host', () => {
    assert.equal(
      checkBindUrls(['http://127.0.0.1:1', 'http://localhost:2', 'http://[::1]:3', 'unix://x:1']),
      undefined,
    );
    assert.equal(
      checkBindUrls(['http://example.com:2379']),
      'expected IP in URL for binding (http://example.com:2379)',
    );
    assert.equal(checkBindUrls(['http://:2379']), 'expected IP in URL for binding (http://:2379)');
    assert.equal(checkHostUrls(['http://example.com:2379']), undefined);
    assert.equal(checkHostUrls(['http://:2379']), 'unexpected empty host (http://:2379)');
  });
});
