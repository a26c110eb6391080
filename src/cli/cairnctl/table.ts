// ASCII tables as etcdctl 3.4 draws them (olekukonko/tablewriter of early 2017 with right-aligned rows):
// headers upper-cased and centred, cells wrapped at spaces to at most 30 columns, `+---+` rules.

const MAX_WIDTH = 30;

function width(s: string): number {
  return [...s].length;
}

/** tablewriter's WrapWords: minimum-raggedness line breaking. */
function wrapWords(words: string[], lim: number): string[][] {
  const n = words.length;
  const length: number[][] = [];
  for (let i = 0; i < n; i++) {
    length.push(new Array<number>(n).fill(0));
    length[i][i] = width(words[i]);
    for (let j = i + 1; j < n; j++) length[i][j] = length[i][j - 1] + 1 + width(words[j]);
  }
  const nbrk = new Array<number>(n).fill(0);
  const cost = new Array<number>(n).fill(2 ** 31 - 1);
  const penalty = 1e5;
  for (let i = n - 1; i >= 0; i--) {
    if (length[i][n - 1] <= lim) {
      cost[i] = 0;
      nbrk[i] = n;
    } else {
      for (let j = i + 1; j < n; j++) {
        const d = lim - length[i][j - 1];
        let c = d * d + cost[j];
        if (length[i][j - 1] > lim) c += penalty;
        if (c < cost[i]) {
          cost[i] = c;
          nbrk[i] = j;
        }
      }
    }
  }
  const lines: string[][] = [];
  for (let i = 0; i < n; i = nbrk[i]) lines.push(words.slice(i, nbrk[i]));
  return lines;
}

function wrapString(s: string, lim: number): string[] {
  const words = s.replace(/\n/g, ' ').split(' ');
  for (const w of words) lim = Math.max(lim, width(w));
  return wrapWords(words, lim).map((line) => line.join(' '));
}

export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const cs: number[] = [];
  const grow = (col: number, text: string): void => {
    const w = Math.min(width(text), MAX_WIDTH);
    if (cs[col] === undefined || cs[col] < w || cs[col] === 0) cs[col] = w;
  };
  headers.forEach((h, i) => grow(i, h));
  // Rows are wrapped with the column width known when they are appended, as tablewriter does.
  const lines = rows.map((row) =>
    row.map((cell, col) => {
      grow(col, cell);
      const wrapped = wrapString(cell, cs[col]);
      for (const l of wrapped) cs[col] = Math.max(cs[col], width(l));
      return wrapped;
    }),
  );
  const rule = `+${cs.map((w) => '-'.repeat(w + 2)).join('+')}+\n`;
  const center = (s: string, w: number): string => {
    const gap = w - width(s);
    if (gap <= 0) return s;
    const left = Math.floor(gap / 2);
    return ' '.repeat(left) + s + ' '.repeat(gap - left);
  };
  let out = rule;
  out += `|${headers.map((h, i) => ` ${center(h.replace(/[_.]/g, ' ').trim().toUpperCase(), cs[i])} `).join('|')}|\n`;
  out += rule;
  for (const cells of lines) {
    const height = Math.max(...cells.map((c) => c.length));
    for (let x = 0; x < height; x++) {
      out += '|';
      cells.forEach((c, y) => {
        const s = c[x] ?? '  ';
        out += ` ${s.padStart(cs[y] + s.length - width(s))} |`;
      });
      out += '\n';
    }
  }
  return out + rule;
}
