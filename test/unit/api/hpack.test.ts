// The HPACK codec against RFC 7541: the Huffman table of Appendix B, every example of Appendix C
// (decoded, and re-encoded to the same bytes where the RFC's encoder made the choices ours makes),
// the errors a decoder must raise, and random round trips through a small, evicting table.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import fc from 'fast-check';

import {
  HpackDecoder,
  HpackEncoder,
  HpackError,
  decodeHpackInteger,
  encodeHpackInteger,
  huffmanCodeOf,
  huffmanDecode,
  huffmanEncode,
  type HeaderField,
} from '../../../src/api/hpack.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const f = (name: string, value: string, sensitive = false): HeaderField => ({ name, value, sensitive });
const pairs = (fields: readonly HeaderField[]): string[][] => fields.map((x) => [x.name, x.value]);

test('Huffman code: spot checks against RFC 7541 Appendix B, and the code is complete', () => {
  const rows: [number, number, number][] = [
    [0, 0x1ff8, 13],
    [1, 0x7fffd8, 23],
    [10, 0x3ffffffc, 30],
    [32, 0x14, 6],
    [47, 0x18, 6],
    [48, 0x0, 5],
    [90, 0xfd, 8],
    [92, 0x7fff0, 19],
    [97, 0x3, 5],
    [126, 0x1ffd, 13],
    [127, 0xffffffc, 28],
    [128, 0xfffe6, 20],
    [199, 0x1ffffec, 25],
    [254, 0x7fffff0, 27],
    [255, 0x3ffffee, 26],
    [256, 0x3fffffff, 30],
  ];
  for (const [sym, code, bits] of rows) assert.deepEqual(huffmanCodeOf(sym), { code, bits }, `symbol ${sym}`);
  // Kraft: a complete prefix code has sum(2^-len) = 1; and no two symbols share a code.
  let kraft = 0;
  const seen = new Set<string>();
  for (let s = 0; s <= 256; s++) {
    const { code, bits } = huffmanCodeOf(s);
    kraft += 2 ** -bits;
    seen.add(`${bits}:${code}`);
  }
  assert.equal(kraft, 1);
  assert.equal(seen.size, 257);
});

test('Huffman: every byte value round-trips, and bad padding or EOS is refused', () => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  assert.deepEqual(huffmanDecode(huffmanEncode(all)), all);
  assert.deepEqual(huffmanEncode(Buffer.from('www.example.com')), hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff'));
  assert.equal(huffmanDecode(hex('a8eb 1064 9cbf')).toString(), 'no-cache');
  // 'a' is 00011; the 3 padding bits must be ones.
  assert.equal(huffmanDecode(hex('1f')).toString(), 'a');
  assert.throws(() => huffmanDecode(hex('18')), /padding is not a prefix of EOS/);
  // 16 one-bits complete no symbol: padding longer than 7 bits.
  assert.throws(() => huffmanDecode(hex('ffff')), /padding longer than 7 bits/);
  // 30 one-bits are EOS itself.
  assert.throws(() => huffmanDecode(hex('ffffffff')), /EOS symbol/);
});

test('C.1 integers: 10 and 1337 on a 5-bit prefix, 42 on 8 bits; oversized integers are refused', () => {
  assert.deepEqual(encodeHpackInteger(10, 5), hex('0a'));
  assert.deepEqual(encodeHpackInteger(1337, 5), hex('1f9a0a'));
  assert.deepEqual(encodeHpackInteger(42, 8), hex('2a'));
  assert.deepEqual(decodeHpackInteger(hex('ea'), 5), { value: 10, length: 1 });
  assert.deepEqual(decodeHpackInteger(hex('1f9a0a'), 5), { value: 1337, length: 3 });
  assert.deepEqual(decodeHpackInteger(hex('2a'), 8), { value: 42, length: 1 });
  assert.deepEqual(decodeHpackInteger(encodeHpackInteger(31, 5), 5), { value: 31, length: 2 });
  assert.throws(() => decodeHpackInteger(hex('1f9a'), 5), /truncated integer/);
  assert.throws(() => decodeHpackInteger(hex('1fffffffff7f'), 5), /integer too large/);
});

test('C.2 field representations: indexed, literal with, without and never indexed', () => {
  const d1 = new HpackDecoder();
  assert.deepEqual(d1.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')), [
    f('custom-key', 'custom-header'),
  ]);
  assert.equal(d1.tableLength, 1);
  const d2 = new HpackDecoder();
  assert.deepEqual(d2.decode(hex('040c 2f73 616d 706c 652f 7061 7468')), [f(':path', '/sample/path')]);
  assert.equal(d2.tableLength, 0);
  const d3 = new HpackDecoder();
  assert.deepEqual(d3.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74')), [
    f('password', 'secret', true),
  ]);
  assert.equal(d3.tableLength, 0);
  assert.deepEqual(new HpackDecoder().decode(hex('82')), [f(':method', 'GET')]);
  // A sensitive field is re-encoded never-indexed, and its name taken from the static table.
  const e = new HpackEncoder({ huffman: false });
  assert.deepEqual(e.encode([f('authorization', 'x', true)]), hex('1f08 0178'));
});

const REQUESTS: readonly HeaderField[][] = [
  [f(':method', 'GET'), f(':scheme', 'http'), f(':path', '/'), f(':authority', 'www.example.com')],
  [
    f(':method', 'GET'),
    f(':scheme', 'http'),
    f(':path', '/'),
    f(':authority', 'www.example.com'),
    f('cache-control', 'no-cache'),
  ],
  [
    f(':method', 'GET'),
    f(':scheme', 'https'),
    f(':path', '/index.html'),
    f(':authority', 'www.example.com'),
    f('custom-key', 'custom-value'),
  ],
];

const RESPONSES: readonly HeaderField[][] = [
  [
    f(':status', '302'),
    f('cache-control', 'private'),
    f('date', 'Mon, 21 Oct 2013 20:13:21 GMT'),
    f('location', 'https://www.example.com'),
  ],
  [
    f(':status', '307'),
    f('cache-control', 'private'),
    f('date', 'Mon, 21 Oct 2013 20:13:21 GMT'),
    f('location', 'https://www.example.com'),
  ],
  [
    f(':status', '200'),
    f('cache-control', 'private'),
    f('date', 'Mon, 21 Oct 2013 20:13:22 GMT'),
    f('location', 'https://www.example.com'),
    f('content-encoding', 'gzip'),
    f('set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'),
  ],
];

/** Decodes the RFC's blocks in order with one decoder and encodes the lists with one encoder. */
function checkSequence(
  lists: readonly HeaderField[][],
  blocks: readonly string[],
  tableLengths: readonly number[],
  options: { maxTableSize?: number; huffman: boolean },
): void {
  const decoder = new HpackDecoder({ maxTableSize: options.maxTableSize });
  const encoder = new HpackEncoder(options);
  blocks.forEach((b, i) => {
    assert.deepEqual(pairs(decoder.decode(hex(b))), pairs(lists[i]), `block ${i + 1} decodes`);
    assert.equal(decoder.tableLength, tableLengths[i], `table after block ${i + 1}`);
    assert.equal(encoder.encode(lists[i]).toString('hex'), hex(b).toString('hex'), `list ${i + 1} encodes`);
  });
}

test('C.3 requests without Huffman coding', () => {
  checkSequence(
    REQUESTS,
    [
      '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '8286 84be 5808 6e6f 2d63 6163 6865',
      '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    ],
    [1, 2, 3],
    { huffman: false },
  );
});

test('C.4 requests with Huffman coding', () => {
  checkSequence(
    REQUESTS,
    [
      '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
      '8286 84be 5886 a8eb 1064 9cbf',
      '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
    ],
    [1, 2, 3],
    { huffman: true },
  );
});

test('C.5 responses without Huffman coding, 256-octet table with evictions', () => {
  checkSequence(
    RESPONSES,
    [
      `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
       2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
       6c65 2e63 6f6d`,
      '4803 3330 37c1 c0bf',
      `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
       54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
       5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
       3d31`,
    ],
    [4, 4, 3],
    { maxTableSize: 256, huffman: false },
  );
});

test('C.6 responses with Huffman coding, 256-octet table with evictions', () => {
  checkSequence(
    RESPONSES,
    [
      `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
       2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
      '4883 640e ffc1 c0bf',
      `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
       77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
       9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
    ],
    [4, 4, 3],
    { maxTableSize: 256, huffman: true },
  );
});

test('decoder errors: bad indexes, misplaced or oversized table updates, truncation, list limit', () => {
  const fails = (block: string, pattern: RegExp, options = {}): void =>
    assert.throws(
      () => new HpackDecoder(options).decode(hex(block)),
      (e: unknown) => e instanceof HpackError && pattern.test(e.message),
    );
  fails('80', /index 0/);
  fails('be', /index 62 is not in the table/);
  fails('82 3f e1 1f', /table size update after a header field/);
  fails('3f e2 1f', /above the limit/); // 4097
  fails('3f e1 1f', /above the limit/, { maxTableSize: 1024 }); // 4096
  fails('410f 7777', /truncated string/);
  fails('41', /truncated/);
  fails('400a 6375', /truncated string/);
  fails('4003 6162 63 03 646566', /header list too large/, { maxListSize: 30 });
  // A size update to 0 at the start of a block empties the table.
  const d = new HpackDecoder();
  d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
  assert.equal(d.tableLength, 1);
  assert.deepEqual(d.decode(hex('20 82')), [f(':method', 'GET')]);
  assert.equal(d.tableLength, 0);
  assert.throws(() => d.decode(hex('be')), /not in the table/);
});

test('random header lists round-trip through encoder and decoder sharing an evicting table', () => {
  const text = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)) });
  const field = fc.record({
    name: fc.oneof(fc.constantFrom(':authority', ':path', 'content-type', 'te', 'grpc-timeout'), text),
    value: text,
    sensitive: fc.boolean(),
  });
  // fast-check builds records without a prototype; the decoder returns plain objects.
  const plain = field.map((x): HeaderField => ({ ...x }));
  fc.assert(
    fc.property(
      fc.array(fc.array(plain, { maxLength: 12 }), { minLength: 1, maxLength: 20 }),
      fc.boolean(),
      fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
      (lists, huffman, resizeTo) => {
        const encoder = new HpackEncoder({ maxTableSize: 300, huffman });
        const decoder = new HpackDecoder({ maxTableSize: 300 });
        lists.forEach((list, i) => {
          if (i === 1 && resizeTo !== undefined) encoder.resize(resizeTo);
          assert.deepEqual(decoder.decode(encoder.encode(list)), list);
        });
      },
    ),
    { numRuns: 300 },
  );
});
