import type { FieldErrors } from "./api-error.ts";
import type { JsonObject } from "./json-body.ts";

interface Common {
  required?: boolean;
}

/**
 * Reads typed fields out of a JSON body and collects every problem by field name, so a client gets
 * all of them in one 400. Each reader returns `undefined` when the field is absent or invalid.
 */
export class FieldReader {
  readonly errors: FieldErrors = {};

  constructor(private readonly body: JsonObject) {}

  has(name: string): boolean {
    return Object.hasOwn(this.body, name);
  }

  private present(name: string, required: boolean | undefined): boolean {
    if (this.has(name) && this.body[name] !== undefined) return true;
    if (required) this.errors[name] = "required";
    return false;
  }

  /** A string, trimmed, `min`..`max` characters (code points), optionally matching `pattern`. */
  string(name: string, o: Common & { min?: number; max: number; pattern?: RegExp; patternMessage?: string; trim?: boolean }): string | undefined {
    if (!this.present(name, o.required)) return undefined;
    const raw = this.body[name];
    if (typeof raw !== "string") return this.fail(name, "must be a string");
    const value = o.trim === false ? raw : raw.trim();
    const length = [...value].length;
    const min = o.min ?? 0;
    if (length < min) return this.fail(name, min === 1 ? "must not be empty" : `must be at least ${min} characters`);
    if (length > o.max) return this.fail(name, `must be at most ${o.max} characters`);
    if (o.pattern && !o.pattern.test(value)) return this.fail(name, o.patternMessage ?? `must match ${o.pattern.source}`);
    return value;
  }

  boolean(name: string, o: Common = {}): boolean | undefined {
    if (!this.present(name, o.required)) return undefined;
    const raw = this.body[name];
    return typeof raw === "boolean" ? raw : this.fail(name, "must be true or false");
  }

  integer(name: string, o: Common & { min: number; max: number }): number | undefined {
    if (!this.present(name, o.required)) return undefined;
    const raw = this.body[name];
    if (typeof raw !== "number" || !Number.isInteger(raw)) return this.fail(name, "must be an integer");
    if (raw < o.min || raw > o.max) return this.fail(name, `must be from ${o.min} to ${o.max}`);
    return raw;
  }

  number(name: string, o: Common & { min: number; max: number }): number | undefined {
    if (!this.present(name, o.required)) return undefined;
    const raw = this.body[name];
    if (typeof raw !== "number" || !Number.isFinite(raw)) return this.fail(name, "must be a number");
    if (raw < o.min || raw > o.max) return this.fail(name, `must be from ${o.min} to ${o.max}`);
    return raw;
  }

  oneOf<T extends string>(name: string, values: readonly T[], o: Common = {}): T | undefined {
    if (!this.present(name, o.required)) return undefined;
    const raw = this.body[name];
    if (typeof raw !== "string" || !(values as readonly string[]).includes(raw)) return this.fail(name, `must be one of: ${values.join(", ")}`);
    return raw as T;
  }

  /** An array of strings, each normalised by `item` (which returns null for an invalid one). */
  stringArray(name: string, o: Common & { maxItems: number; item: (s: string) => string | null; itemMessage: string }): string[] | undefined {
    if (!this.present(name, o.required)) return undefined;
    const raw = this.body[name];
    if (!Array.isArray(raw)) return this.fail(name, "must be an array of strings");
    if (raw.length > o.maxItems) return this.fail(name, `must have at most ${o.maxItems} items`);
    const out: string[] = [];
    for (const [i, v] of raw.entries()) {
      const item = typeof v === "string" ? o.item(v) : null;
      if (item === null) return this.fail(name, `item ${i}: ${o.itemMessage}`);
      if (!out.includes(item)) out.push(item);
    }
    return out;
  }

  fail(name: string, message: string): undefined {
    this.errors[name] = message;
    return undefined;
  }
}

/** Query parameters: an optional integer in range, else a field error. */
export const queryInteger = (value: string | undefined, name: string, o: { min: number; max: number; fallback: number }, errors: FieldErrors): number => {
  if (value === undefined || value === "") return o.fallback;
  if (!/^(0|[1-9][0-9]{0,9})$/.test(value)) {
    errors[name] = "must be a non-negative integer";
    return o.fallback;
  }
  const n = Number(value);
  if (n < o.min || n > o.max) {
    errors[name] = `must be from ${o.min} to ${o.max}`;
    return o.fallback;
  }
  return n;
};
