// Standard input read piece by piece: a password line, a word (Go's fmt.Scanf("%s")), or the rest.
// One reader per command, so that a password prompt and a later read of stdin (e.g. a put value)
// share what was already taken from the stream instead of losing it.

export class StdinReader {
  private buffered: Buffer = Buffer.alloc(0);
  private iterator: AsyncIterator<string | Buffer> | undefined;
  private ended = false;

  constructor(private readonly stream: NodeJS.ReadableStream) {}

  /** Pulls one more chunk into the buffer; false at the end of input. */
  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    this.iterator ??= (this.stream as AsyncIterable<string | Buffer>)[Symbol.asyncIterator]();
    const next = await this.iterator.next();
    if (next.done === true) {
      this.ended = true;
      return false;
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    this.buffered = Buffer.concat([this.buffered, chunk]);
    return true;
  }

  private take(n: number): Buffer {
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }

  /** The next byte without taking it; undefined at the end of input. */
  private async peek(): Promise<number | undefined> {
    while (this.buffered.length === 0) if (!(await this.fill())) return undefined;
    return this.buffered[0];
  }

  /**
   * One line without its "\n" (and a "\r" before it); what is left at the end of input counts as the
   * last line, and an exhausted input reads as an empty line (speakeasy's readline).
   */
  async readLine(): Promise<string> {
    for (;;) {
      const nl = this.buffered.indexOf(0x0a);
      if (nl >= 0) {
        const line = this.take(nl + 1).subarray(0, nl);
        return stripCr(line).toString('utf8');
      }
      if (!(await this.fill())) return stripCr(this.take(this.buffered.length)).toString('utf8');
    }
  }

  /**
   * A word as fmt.Scanf("%s") reads one: blanks before it are skipped, a newline before any word
   * gives "" (Scanf fails there), and the blank or newline that ends the word is consumed.
   */
  async readWord(): Promise<string> {
    for (;;) {
      const b = await this.peek();
      if (b === undefined) return '';
      if (b === 0x0a) {
        this.take(1);
        return '';
      }
      if (!isBlank(b)) break;
      this.take(1);
    }
    const word: number[] = [];
    for (;;) {
      const b = await this.peek();
      if (b === undefined) break;
      this.take(1);
      if (b === 0x0a || isBlank(b)) break;
      word.push(b);
    }
    return Buffer.from(word).toString('utf8');
  }

  /** What is not read yet, as a stream of chunks (for line-by-line readers). */
  async *remaining(): AsyncGenerator<Buffer> {
    if (this.buffered.length > 0) yield this.take(this.buffered.length);
    while (await this.fill()) yield this.take(this.buffered.length);
  }

  /** Everything not read yet. */
  async readAll(): Promise<Buffer> {
    while (await this.fill());
    return this.take(this.buffered.length);
  }
}

function isBlank(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0b || b === 0x0c;
}

function stripCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, line.length - 1) : line;
}
