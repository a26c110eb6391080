import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import {
  UrlError,
  normalizeUrls,
  parseUrl,
  parseUrls,
  parseUrlsFlag,
  splitHostPort,
  urlFlagErrorMessage,
} from '../../../src/membership/urls.js';

// Normalised forms observed from etcd 3.4.23: it echoes the parsed --initial-advertise-peer-urls in
// its "--initial-cluster has ... but missing from --initial-advertise-peer-urls=<urls>" message.
const ACCEPTED: readonly [string, string][] = [
  ['http://127.0.0.1:2380', 'http://127.0.0.1:2380'],
  ['HTTP://127.0.0.1:2380', 'http://127.0.0.1:2380'],
  ['HtTpS://127.0.0.2:1', 'https://127.0.0.2:1'],
  [' http://127.0.0.1:2380', 'http://127.0.0.1:2380'],
  ['http://127.0.0.1:2380 ', 'http://127.0.0.1:2380'],
  ['http://127.0.0.1:', 'http://127.0.0.1:'],
  ['http://u:p@127.0.0.1:2380', 'http://u:p@127.0.0.1:2380'],
  ['http://u@127.0.0.2:1', 'http://u@127.0.0.2:1'],
  ['http://a@b@127.0.0.2:1', 'http://a%40b@127.0.0.2:1'],
  ['http://127.0.0.1:2380#frag', 'http://127.0.0.1:2380#frag'],
  ['http://127.0.0.1:2380#', 'http://127.0.0.1:2380'],
  ['http://127.0.0.1:2380?', 'http://127.0.0.1:2380?'],
  ['http://127.0.0.1:2380?a=b', 'http://127.0.0.1:2380?a=b'],
  ['http://127.0.0.2:1?a b', 'http://127.0.0.2:1?a b'],
  ['http://127.0.0.2:1?q=%zz', 'http://127.0.0.2:1?q=%zz'],
  ['http://127.0.0.2:1#a b', 'http://127.0.0.2:1#a%20b'],
  ['http://127.0.0.2:1#x%41', 'http://127.0.0.2:1#x%41'],
  ['http://127.0.0.2:1?q=a#x%41', 'http://127.0.0.2:1?q=a#x%41'],
  ['http://127.0.0.2:1#x/y?z', 'http://127.0.0.2:1#x/y?z'],
  ['http://127.0.0.2:65536', 'http://127.0.0.2:65536'],
  ['http://127.0.0.2:01', 'http://127.0.0.2:01'],
  ['unix://sock:1', 'unix://sock:1'],
  ['unixs://h:1', 'unixs://h:1'],
  ['http://[::1]:2380', 'http://[::1]:2380'],
  ['http://[::FFFF:1.2.3.4]:1', 'http://[::FFFF:1.2.3.4]:1'],
  ['http://[fe80::1%25eth0]:1', 'http://[fe80::1%25eth0]:1'],
  ['https://Host.Example:1', 'https://Host.Example:1'],
];

test('accepts what etcd accepts and normalises as Go prints it', () => {
  for (const [input, href] of ACCEPTED) {
    assert.equal(parseUrl(input).href, href, input);
  }
});

test('splits host and port like net.SplitHostPort', () => {
  assert.deepEqual(
    [parseUrl('http://[::1]:2380').hostname, parseUrl('http://[::1]:2380').port],
    ['::1', '2380'],
  );
  assert.equal(parseUrl('http://[fe80::1%25eth0]:1').hostname, 'fe80::1%eth0');
  assert.equal(parseUrl('https://127.0.0.1:2379').scheme, 'https');
  assert.equal(parseUrl('http://127.0.0.1:').port, '');
  assert.equal(splitHostPort('h:1:2'), undefined);
  assert.equal(splitHostPort(''), undefined);
  assert.equal(splitHostPort('[::1]'), undefined);
  assert.deepEqual(splitHostPort(':2380'), { host: '', port: '2380' });
});

// Error texts observed from etcd 3.4.23 as `invalid value "<v>" for flag -initial-advertise-peer-urls: <text>`.
const REJECTED: readonly [string, string][] = [
  ['ftp://127.0.0.1:2380', 'URL scheme must be http, https, unix, or unixs: ftp://127.0.0.1:2380'],
  ['h:1', 'URL scheme must be http, https, unix, or unixs: h:1'],
  ['', 'URL scheme must be http, https, unix, or unixs: '],
  ['http://127.0.0.1', 'URL address does not have the form "host:port": http://127.0.0.1'],
  ['http://::1:2380', 'URL address does not have the form "host:port": http://::1:2380'],
  ['http://[::1]', 'URL address does not have the form "host:port": http://[::1]'],
  ['http:127.0.0.1:2380', 'URL address does not have the form "host:port": http:127.0.0.1:2380'],
  ['unix:///tmp/sock', 'URL address does not have the form "host:port": unix:///tmp/sock'],
  ['http://h:1:2', 'URL address does not have the form "host:port": http://h:1:2'],
  ['http:/h:1', 'URL address does not have the form "host:port": http:/h:1'],
  ['http:///h:1', 'URL address does not have the form "host:port": http:///h:1'],
  ['http://127.0.0.1:2380/path', 'URL must not contain a path: http://127.0.0.1:2380/path'],
  ['http://127.0.0.1:2380/', 'URL must not contain a path: http://127.0.0.1:2380/'],
  ['http://[::1]:1/', 'URL must not contain a path: http://[::1]:1/'],
  ['http://h:1/?x', 'URL must not contain a path: http://h:1/?x'],
  ['http://[::1:2380', `parse "http://[::1:2380": missing ']' in host`],
  ['127.0.0.1:2380', 'parse "127.0.0.1:2380": first path segment in URL cannot contain colon'],
  ['1http://x:1', 'parse "1http://x:1": first path segment in URL cannot contain colon'],
  ['://x:1', 'parse "://x:1": missing protocol scheme'],
  ['http://127.0.0.1:abc', 'parse "http://127.0.0.1:abc": invalid port ":abc" after host'],
  ['http://h:-1', 'parse "http://h:-1": invalid port ":-1" after host'],
  ['http://[::1]x:1', 'parse "http://[::1]x:1": invalid port "x:1" after host'],
  ['http://a b:1', 'parse "http://a b:1": invalid character " " in host name'],
  ['http://%41:1', 'parse "http://%41:1": invalid URL escape "%41"'],
  ['http://h%20x:1', 'parse "http://h%20x:1": invalid URL escape "%20"'],
  ['http://h:1#%zz', 'parse "http://h:1#%zz": invalid URL escape "%zz"'],
  ['http://u%zz@h:1', 'parse "http://u%zz@h:1": invalid URL escape "%zz"'],
  ['http://u p@h:1', 'parse "http://u p@h:1": net/url: invalid userinfo'],
  ['http://h:1\x01', 'parse "http://h:1\\x01": net/url: invalid control character in URL'],
];

test('rejects what etcd rejects, with its texts', () => {
  for (const [input, message] of REJECTED) {
    assert.throws(
      () => parseUrl(input),
      (e: unknown) => e instanceof UrlError && e.message === message,
      `${JSON.stringify(input)} should fail with ${message}`,
    );
  }
});

test('flag errors read as etcd prints them before exiting with code 2', () => {
  try {
    parseUrlsFlag('ftp://127.0.0.1:2380');
    assert.fail('expected an error');
  } catch (e) {
    assert.ok(e instanceof UrlError);
    assert.equal(
      urlFlagErrorMessage('initial-advertise-peer-urls', 'ftp://127.0.0.1:2380', e),
      'invalid value "ftp://127.0.0.1:2380" for flag -initial-advertise-peer-urls: ' +
        'URL scheme must be http, https, unix, or unixs: ftp://127.0.0.1:2380',
    );
  }
});

test('lists are sorted by normalised form, duplicates kept; empty is an error', () => {
  // etcd printed --initial-advertise-peer-urls=http://a:2,http://b:1,http://b:1 for this input.
  assert.deepEqual(parseUrlsFlag('http://b:1,http://a:2,http://b:1'), [
    'http://a:2',
    'http://b:1',
    'http://b:1',
  ]);
  assert.deepEqual(normalizeUrls(['HTTP://Z:1', 'http://a:1']), ['http://Z:1', 'http://a:1']);
  assert.throws(() => parseUrls([]), { message: 'no valid URLs given' });
  assert.throws(() => parseUrlsFlag(''), { message: 'URL scheme must be http, https, unix, or unixs: ' });
});

const hostArb = fc.oneof(
  fc.ipV4(),
  fc.domain(),
  fc.ipV6().map((h) => `[${h}]`),
);
const urlArb = fc
  .tuple(
    fc.constantFrom('http', 'https', 'unix', 'unixs', 'HTTP', 'Https'),
    hostArb,
    fc.integer({ min: 0, max: 65535 }),
    fc.option(fc.webQueryParameters(), { nil: undefined }),
    fc.option(fc.webFragments(), { nil: undefined }),
  )
  .map(
    ([s, h, p, q, f]) => `${s}://${h}:${p}${q === undefined ? '' : '?' + q}${f === undefined ? '' : '#' + f}`,
  );

test('property: normalising is idempotent and keeps scheme, host and port', () => {
  fc.assert(
    fc.property(urlArb, (raw) => {
      const once = parseUrl(raw);
      const twice = parseUrl(once.href);
      assert.equal(twice.href, once.href);
      assert.equal(once.scheme, raw.slice(0, raw.indexOf(':')).toLowerCase());
      assert.equal(twice.hostname, once.hostname);
      assert.equal(twice.port, once.port);
    }),
    { seed: 20240601, numRuns: 500 },
  );
});
