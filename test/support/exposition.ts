// Reading Prometheus' text exposition format (0.0.4) in tests: HELP and TYPE lines, then samples,
// grouped by family (a histogram's _bucket, _sum and _count samples under its name).

import assert from 'node:assert/strict';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  help?: string;
  type?: string;
  readonly samples: Sample[];
}

/** Prometheus text format 0.0.4: HELP and TYPE lines, then samples (a histogram's under its name). */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (f === undefined) {
      f = { samples: [] };
      families.set(name, f);
    }
    return f;
  };
  let current = '';
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta !== null) {
      current = meta[2];
      if (meta[1] === 'HELP') family(current).help = meta[3];
      else family(current).type = meta[3];
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m !== null, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    // A sample belongs to the family declared above it (x_bucket, x_sum and x_count to histogram x).
    const owner = m[1].startsWith(current) ? current : m[1];
    family(owner).samples.push({ name: m[1], labels, value });
  }
  return families;
}

/** The value of the sample `name` with exactly these labels (undefined if absent). */
export function valueOf(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const family = name.replace(/_(bucket|sum|count)$/, '');
  const f = families.get(families.has(name) ? name : family);
  const want = JSON.stringify(Object.entries(labels).sort());
  return f?.samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)
    ?.value;
}

/** The value of the first sample `name` whose labels include these (others ignored). */
export function valueWith(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const f = families.get(families.has(name) ? name : name.replace(/_(bucket|sum|count)$/, ''));
  return f?.samples.find(
    (x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v),
  )?.value;
}
