// Turning one flag's text into its typed value, with the error texts Go's flag package gives
// (the caller wraps them as `invalid value "x" for flag -name: <error>`).

import type { FlagDef } from './flags.js';
import { parseGoBool, parseGoDuration, parseGoInt, parseGoUint, type ValueResult } from './go-values.js';
import { parseUrlList } from './urls.js';

/** string (string, choice), boolean, bigint (integers; durations in nanoseconds) or a list. */
export type FlagValue = string | boolean | bigint | readonly string[];

/** `value: undefined` means "leave the current value", etcd's behaviour for some exception inputs. */
export type Conversion = ValueResult<FlagValue | undefined>;

export const DEFAULT_INITIAL_CLUSTER = 'default=http://localhost:2380';

export function defaultValue(d: FlagDef): FlagValue {
  switch (d.kind.type) {
    case 'string':
      // data-dir's default depends on the final name; '' is resolved last, as etcd does.
      return d.name === 'data-dir' ? '' : d.defaultText;
    case 'choice':
      return d.defaultText;
    case 'bool':
    case 'ignored':
      return d.defaultText === 'true';
    case 'uint':
      return d.name === 'max-concurrent-streams' ? 0xffff_ffffn : BigInt(d.defaultText);
    case 'int':
      return BigInt(d.defaultText);
    case 'duration': {
      const r = parseGoDuration(d.defaultText === '' ? '0' : d.defaultText);
      return r.ok ? r.value : 0n;
    }
    case 'urls':
      return d.defaultText === '' ? [] : d.defaultText.split(',');
    case 'strings':
      return d.defaultText === '' ? [] : d.defaultText.split(',');
  }
}

export function convertFlagText(d: FlagDef, text: string): Conversion {
  const k = d.kind;
  switch (k.type) {
    case 'string':
      return { ok: true, value: text };
    case 'bool':
    case 'ignored':
      return parseGoBool(text);
    case 'uint':
      return parseGoUint(text, k.bits);
    case 'int':
      return parseGoInt(text, k.bits);
    case 'duration': {
      // The flag package hides time's message behind its generic "parse error".
      const r = parseGoDuration(text);
      return r.ok ? r : { ok: false, error: 'parse error' };
    }
    case 'choice':
      return k.values.includes(text) ? { ok: true, value: text } : { ok: false, error: 'invalid value' };
    case 'urls': {
      if (k.keep.includes(text)) return { ok: true, value: text === '*' ? ['*'] : undefined };
      const r = parseUrlList(text);
      return r.ok ? { ok: true, value: r.urls } : { ok: false, error: r.error };
    }
    case 'strings': {
      const items = text.split(',');
      return { ok: true, value: k.unique ? [...new Set(items)].sort() : items };
    }
  }
}
