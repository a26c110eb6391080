// Command-line flags of the benchmarks: `--name=value`, and bare `--name` for switches.

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

/** A switch: `--name` alone. */
export function switchFlag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

/** Refuses any argument that is not one of `known` (a typo would otherwise run the defaults). */
export function checkFlags(known: readonly string[]): void {
  for (const arg of process.argv.slice(2)) {
    const name = /^--([a-z0-9-]+)(=|$)/.exec(arg)?.[1];
    if (name === undefined || !known.includes(name)) throw new Error(`unknown argument ${arg}`);
  }
}

function positive(name: string, raw: string, integer: boolean): number {
  const v = Number(raw);
  if (!(v > 0) || (integer && !Number.isInteger(v))) throw new Error(`--${name} must be a positive number`);
  return v;
}

/** A positive number (an integer unless `integer` is false). */
export function numberFlag(name: string, fallback: number, integer = true): number {
  const raw = rawFlag(name);
  return raw === undefined || raw === '' ? fallback : positive(name, raw, integer);
}

/** A comma-separated list of positive integers. */
export function listFlag(name: string, fallback: string): number[] {
  return stringFlag(name, fallback)
    .split(',')
    .map((x) => positive(name, x, true));
}

/** One value out of `choices`. */
export function choiceFlag<T extends string>(name: string, choices: readonly T[], fallback: T): T {
  const raw = stringFlag(name, fallback);
  const found = choices.find((c) => c === raw);
  if (found === undefined) throw new Error(`--${name} must be one of ${choices.join(', ')}`);
  return found;
}
