// JSON as etcd's Go side writes and reads it for members. JSON.parse cannot be used: member IDs are
// uint64 numbers above 2^53 and would lose bits, so this small parser keeps every number's source
// text. The encoder escapes strings the way Go's encoding/json (Go 1.19, which built etcd 3.4.23) does,
// so our member JSON is byte-identical to etcd's.

export type JsonValue = null | boolean | string | JsonNumber | readonly JsonValue[] | JsonObject;

export interface JsonObject {
  readonly [key: string]: JsonValue;
}

/** A number exactly as written in the document. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

export class JsonSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const MAX_DEPTH = 64;

/** Parses one JSON document (surrounding whitespace allowed, as Go's decoder allows). */
export function parseJson(text: string): JsonValue {
  let pos = 0;

  const fail = (what: string): never => {
    throw new JsonSyntaxError(`invalid JSON at offset ${pos}: ${what}`);
  };
  const skipSpace = (): void => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      pos++;
    }
  };
  const literal = (word: string): void => {
    if (!text.startsWith(word, pos)) fail(`expected ${word}`);
    pos += word.length;
  };

  const parseString = (): string => {
    pos++; // opening quote
    let out = '';
    let runStart = pos;
    while (true) {
      if (pos >= text.length) fail('unterminated string');
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(runStart, pos);
        pos++;
        return out;
      }
      if (c < 0x20) fail('control character in string');
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(runStart, pos);
      const e = text[pos + 1];
      pos += 2;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = text.slice(pos, pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          pos += 4;
          break;
        }
        default:
          fail('bad escape');
      }
      runStart = pos;
    }
  };

  const parseValue = (depth: number): JsonValue => {
    if (depth > MAX_DEPTH) fail('nesting too deep');
    skipSpace();
    const c = text[pos];
    if (c === '{') {
      pos++;
      const obj: Record<string, JsonValue> = {};
      skipSpace();
      if (text[pos] === '}') {
        pos++;
        return obj;
      }
      while (true) {
        skipSpace();
        if (text[pos] !== '"') fail('expected a key');
        const key = parseString();
        skipSpace();
        if (text[pos] !== ':') fail('expected :');
        pos++;
        // defineProperty so a key named __proto__ is an ordinary key.
        Object.defineProperty(obj, key, {
          value: parseValue(depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
        skipSpace();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === '}') {
          pos++;
          return obj;
        }
        fail('expected , or }');
      }
    }
    if (c === '[') {
      pos++;
      const arr: JsonValue[] = [];
      skipSpace();
      if (text[pos] === ']') {
        pos++;
        return arr;
      }
      while (true) {
        arr.push(parseValue(depth + 1));
        skipSpace();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === ']') {
          pos++;
          return arr;
        }
        fail('expected , or ]');
      }
    }
    if (c === '"') return parseString();
    if (c === 't') return (literal('true'), true);
    if (c === 'f') return (literal('false'), false);
    if (c === 'n') return (literal('null'), null);
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (m === null) return fail('unexpected character');
    pos += m[0].length;
    return new JsonNumber(m[0]);
  };

  const value = parseValue(0);
  skipSpace();
  if (pos !== text.length) fail('trailing data');
  return value;
}

const UINT64_MAX = (1n << 64n) - 1n;

/** A JSON number as a Go uint64: digits only, no sign, fraction or exponent, at most 2^64-1. */
export function jsonUint64(v: JsonValue, what: string): bigint {
  if (!(v instanceof JsonNumber) || !/^(0|[1-9][0-9]*)$/.test(v.text)) {
    throw new JsonSyntaxError(`${what}: expected an unsigned integer`);
  }
  const n = BigInt(v.text);
  if (n > UINT64_MAX) throw new JsonSyntaxError(`${what}: ${v.text} overflows uint64`);
  return n;
}

/** Go decodes JSON object keys into struct fields case-insensitively; the last match wins. */
export function jsonField(obj: JsonObject, name: string): JsonValue | undefined {
  let found: JsonValue | undefined;
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) {
    if (key === name || key.toLowerCase() === lower) found = obj[key];
  }
  return found;
}

export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !(v instanceof JsonNumber) && !Array.isArray(v);
}

const HEX = '0123456789abcdef';

/** A string literal as Go's json.Marshal writes it (HTML-safe, U+2028/2029 escaped). */
export function goJsonString(s: string): string {
  let out = '"';
  let runStart = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | undefined;
    if (c === 0x22) esc = '\\"';
    else if (c === 0x5c) esc = '\\\\';
    else if (c === 0x0a) esc = '\\n';
    else if (c === 0x0d) esc = '\\r';
    else if (c === 0x09) esc = '\\t';
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
      esc = '\\u' + HEX[c >> 12] + HEX[(c >> 8) & 15] + HEX[(c >> 4) & 15] + HEX[c & 15];
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // Go writes invalid UTF-8 as U+FFFD; a lone surrogate is the JS form of that.
      const paired =
        c <= 0xdbff && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff;
      if (paired) {
        i++;
        continue;
      }
      esc = '\ufffd';
    }
    if (esc === undefined) continue;
    out += s.slice(runStart, i) + esc;
    runStart = i + 1;
  }
  return out + s.slice(runStart) + '"';
}
