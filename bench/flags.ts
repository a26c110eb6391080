// Command-line flags of the benchmarks: `--name=value`.

function rawFlag(name: string): string | undefined {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? undefined : arg.slice(name.length + 3);
}

export function intFlag(name: string, fallback: number): number {
  const raw = rawFlag(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`);
  return value;
}

export function stringFlag(name: string, fallback: string): string {
  return rawFlag(name) ?? fallback;
}
