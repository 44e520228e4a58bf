import { check, checkOneOf, checkSparsity, SparsifyConfigError } from './errors.js';
import { resolveStrength, type StrengthLike, type StrengthSchedule } from './strength.js';

/**
 * One schema per penalty gives everything about its options: the TypeScript type (`OptionsOf`),
 * validation with defaults (`parseOptions`), the CLI's help (`describeOptions`) and the JSON that
 * `getConfig()` records (`optionsConfig`).
 *
 * ```ts
 * const SCHEMA = { strength: option.strength({ required: true, description: 'λ' }),
 *                  gamma: option.number({ default: 1, min: 0, exclusiveMin: true, description: 'γ' }) };
 * type Options = OptionsOf<typeof SCHEMA>;            // { strength: StrengthLike; gamma?: number }
 * const o = parseOptions('adaptiveLasso', SCHEMA, given); // o.gamma: number, o.strength: StrengthSchedule
 * ```
 */
export interface OptionSpec<In, Out = In> {
  /** How the CLI shows and parses it: numbers, booleans and strings as they are; `json` as JSON text. */
  readonly type: 'number' | 'boolean' | 'string' | 'strength' | 'json';
  readonly description: string;
  /** Filled in by `parseOptions` when the option is absent (as given: it is parsed too). */
  readonly default?: In;
  readonly required?: boolean;
  /** The allowed values of a string option. */
  readonly values?: readonly string[];
  /** Validates a given value (`what` names it in errors) and returns what the penalty uses. */
  parse(value: unknown, what: string): Out;
  /** The JSON `getConfig()` records for a parsed value (default: the value itself). */
  toConfig?(value: Out): unknown;
}

export type OptionSchema = Readonly<Record<string, OptionSpec<unknown, unknown>>>;

type In<S> = S extends OptionSpec<infer I, unknown> ? I : never;
type Out<S> = S extends OptionSpec<unknown, infer O> ? O : never;
type RequiredKeys<S extends OptionSchema> = { [K in keyof S]: S[K] extends { readonly required: true } ? K : never }[keyof S];
type DefaultedKeys<S extends OptionSchema> = { [K in keyof S]: S[K] extends { readonly default: unknown } ? K : never }[keyof S];

/** The options object a penalty factory takes. */
export type OptionsOf<S extends OptionSchema> = { -readonly [K in RequiredKeys<S>]: In<S[K]> } & {
  -readonly [K in Exclude<keyof S, RequiredKeys<S>>]?: In<S[K]>;
};

/** The options after `parseOptions`: parsed values; defaulted ones always present. */
export type ParsedOptions<S extends OptionSchema> = { readonly [K in RequiredKeys<S> | DefaultedKeys<S>]: Out<S[K]> } & {
  readonly [K in Exclude<keyof S, RequiredKeys<S> | DefaultedKeys<S>>]?: Out<S[K]>;
};

interface Common<T> {
  description: string;
  default?: T;
  required?: boolean;
}

type Spec<I, O, C extends Common<I>> = OptionSpec<I, O> &
  (C extends { required: true } ? { readonly required: true } : unknown) &
  (C extends { default: unknown } ? { readonly default: I } : unknown);

function spec<I, O, C extends Common<I>>(
  type: OptionSpec<I, O>['type'],
  common: C,
  parse: (value: unknown, what: string) => O,
  extra: Partial<OptionSpec<I, O>> = {},
): Spec<I, O, C> {
  return { type, ...common, ...extra, parse } as Spec<I, O, C>;
}

interface NumberBounds {
  min?: number;
  max?: number;
  /** min itself is not allowed. */
  exclusiveMin?: boolean;
  /** max itself is not allowed. */
  exclusiveMax?: boolean;
  integer?: boolean;
}

function parseNumber(value: unknown, what: string, b: NumberBounds): number {
  const kind = b.integer ? 'an integer' : 'a finite number';
  const [lo, hi] = [b.exclusiveMin ? '(' : '[', b.exclusiveMax ? ')' : ']'];
  const range =
    b.min !== undefined && b.max !== undefined
      ? ` in ${lo}${b.min}, ${b.max}${hi}`
      : b.min !== undefined
        ? ` ${b.exclusiveMin ? '>' : '≥'} ${b.min}`
        : b.max !== undefined
          ? ` ${b.exclusiveMax ? '<' : '≤'} ${b.max}`
          : '';
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!b.integer || Number.isInteger(value)) &&
    (b.min === undefined || (b.exclusiveMin ? value > b.min : value >= b.min)) &&
    (b.max === undefined || (b.exclusiveMax ? value < b.max : value <= b.max));
  check(ok, what, value, kind + range);
  return value as number;
}

/** Option builders for schemas. */
export const option = {
  number<C extends Common<number> & NumberBounds>(c: C) {
    return spec<number, number, C>('number', c, (v, what) => parseNumber(v, what, c));
  },
  /** A target sparsity: a fraction in [0, 1). */
  sparsity<C extends Common<number>>(c: C) {
    return spec<number, number, C>('number', c, (v, what) => {
      checkSparsity(what, v);
      return v as number;
    });
  },
  boolean<C extends Common<boolean>>(c: C) {
    return spec<boolean, boolean, C>('boolean', c, (v, what) => {
      check(typeof v === 'boolean', what, v, 'true or false');
      return v as boolean;
    });
  },
  /** A string from a fixed list. */
  oneOf<T extends string, C extends Common<T>>(values: readonly T[], c: C) {
    return spec<T, T, C>(
      'string',
      c,
      (v, what) => {
        checkOneOf(what, v, values);
        return v as T;
      },
      { values },
    );
  },
  /** A strength: a number ≥ 0, a schedule, or a schedule's config; parsed to a schedule. */
  strength<C extends Common<StrengthLike>>(c: C) {
    return spec<StrengthLike, StrengthSchedule, C>('strength', c, (v, what) => resolveStrength(v as StrengthLike, what), {
      toConfig: (s) => s.config,
    });
  },
  /** Anything else: `parse` validates and converts; the CLI passes it as JSON text. */
  custom<I, O, C extends Common<I>>(c: C & { parse: (value: unknown, what: string) => O; toConfig?: (value: O) => unknown }) {
    const { parse, toConfig, ...common } = c;
    return spec<I, O, typeof common>('json', common, parse, toConfig ? { toConfig } : {});
  },
};

/**
 * Validates `options` against `schema`: a plain object, no unknown keys, every required one present,
 * each value parsed; absent ones take their defaults. `what` names the penalty in errors.
 */
export function parseOptions<S extends OptionSchema>(what: string, schema: S, options: unknown): ParsedOptions<S> {
  check(typeof options === 'object' && options !== null && !Array.isArray(options), `${what} options`, options, 'an object');
  const given = options as Record<string, unknown>;
  const unknown = Object.keys(given).filter((k) => !(k in schema));
  if (unknown.length > 0) {
    throw new SparsifyConfigError(
      `${what}: unknown option ${unknown.map((k) => JSON.stringify(k)).join(', ')}; valid options: ${Object.keys(schema).join(', ')}`,
    );
  }
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(schema)) {
    const value = given[key] === undefined ? s.default : given[key];
    if (value === undefined) {
      if (s.required) throw new SparsifyConfigError(`${what}: option "${key}" is required (${s.description})`);
      continue;
    }
    out[key] = s.parse(value, `${what} ${key}`);
  }
  return out as ParsedOptions<S>;
}

/** The JSON form of parsed options, for `getConfig()`: absent optional ones are left out. */
export function optionsConfig<S extends OptionSchema>(schema: S, parsed: ParsedOptions<S>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(schema)) {
    const value = (parsed as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = s.toConfig ? s.toConfig(value) : value;
  }
  return out;
}

/** One option as the CLI lists it (`sparsify penalties`). */
export interface PenaltyOptionInfo {
  readonly type: OptionSpec<unknown>['type'];
  readonly description: string;
  readonly default?: unknown;
  readonly required?: boolean;
  readonly values?: readonly string[];
}

/** The schema as the CLI shows it. */
export function describeOptions(schema: OptionSchema): Record<string, PenaltyOptionInfo> {
  return Object.fromEntries(
    Object.entries(schema).map(([key, s]) => [
      key,
      {
        type: s.type,
        description: s.description,
        ...(s.default !== undefined ? { default: s.default } : {}),
        ...(s.required ? { required: true } : {}),
        ...(s.values ? { values: s.values } : {}),
      },
    ]),
  );
}
