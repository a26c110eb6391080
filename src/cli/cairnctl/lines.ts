// Line input as etcdctl reads it (bufio.Reader.ReadString('\n')): a line without its final newline
// counts as end of input ("EOF").

export class LineReader {
  private buffer = Buffer.alloc(0);
  private done = false;
  private readonly iterator: AsyncIterator<Buffer | string>;

  constructor(input: AsyncIterable<Buffer | string>) {
    this.iterator = input[Symbol.asyncIterator]();
  }

  /** The next line including its '\n', or undefined at end of input. */
  async readLine(): Promise<string | undefined> {
    for (;;) {
      const nl = this.buffer.indexOf(0x0a);
      if (nl >= 0) {
        const line = this.buffer.subarray(0, nl + 1).toString('utf8');
        this.buffer = this.buffer.subarray(nl + 1);
        return line;
      }
      if (this.done) return undefined;
      const next = await this.iterator.next();
      if (next.done === true) this.done = true;
      else {
        const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
        this.buffer = Buffer.concat([this.buffer, chunk]);
      }
    }
  }
}

/** Go's strings.TrimSpace (ASCII and Unicode white space). */
export function trimSpace(s: string): string {
  return s.replace(/^[\s\u0085]+|[\s\u0085]+$/gu, '');
}

/** Unquotes a Go double-quoted string literal (what Sscanf's %q accepts); undefined if malformed. */
export function goUnquote(s: string): string | undefined {
  if (s.length >= 2 && s[0] === '`' && s[s.length - 1] === '`') return s.slice(1, -1);
  if (s.length < 2 || s[0] !== '"' || s[s.length - 1] !== '"') return undefined;
  const body = s.slice(1, -1);
  const bytes: number[] = [];
  const pushText = (t: string): void => {
    for (const b of Buffer.from(t, 'utf8')) bytes.push(b);
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '"' || c === '\n') return undefined;
    if (c !== '\\') {
      pushText(c);
      continue;
    }
    const e = body[++i];
    const simple: Record<string, number> = {
      a: 7,
      b: 8,
      f: 12,
      n: 10,
      r: 13,
      t: 9,
      v: 11,
      '\\': 92,
      '"': 34,
    };
    if (e !== undefined && simple[e] !== undefined) bytes.push(simple[e]);
    else if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) {
      bytes.push(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (
      (e === 'u' || e === 'U') &&
      new RegExp(`^[0-9a-fA-F]{${e === 'u' ? 4 : 8}}$`).test(body.slice(i + 1, i + (e === 'u' ? 5 : 9)))
    ) {
      const n = e === 'u' ? 4 : 8;
      pushText(String.fromCodePoint(parseInt(body.slice(i + 1, i + 1 + n), 16)));
      i += n;
    } else if (e !== undefined && /^[0-7]{3}$/.test(body.slice(i, i + 3))) {
      bytes.push(parseInt(body.slice(i, i + 3), 8) & 0xff);
      i += 2;
    } else return undefined;
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * etcdctl's argify: splits a line into words, honouring "double" (Go escapes) and 'single' quotes.
 * (etcdctl 3.4 slices single-quoted words by the wrong length; cairnctl strips the quotes correctly.)
 */
export function argify(line: string): string[] | { error: string } {
  const re = /"(?:[^"\\]|\\.)*"|'[^']*'|[^'"\s]\S*[^'"\s]?/g;
  const out: string[] = [];
  for (const m of line.matchAll(re)) {
    const w = m[0];
    if (w.startsWith("'")) out.push(w.slice(1, -1));
    else if (w.startsWith('"')) {
      const v = goUnquote(w);
      if (v === undefined) return { error: 'invalid syntax' };
      out.push(v);
    } else out.push(w);
  }
  return out;
}
