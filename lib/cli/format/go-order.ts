/**
 * Key order for JSON/YAML output. Incus encodes Go structs, so fields come in
 * declaration order and map keys come sorted; our objects arrive in whatever
 * order the server wrote them. A {@link Shape} describes the Go type so the
 * output can be put back in Incus's order. Fields a shape does not know are
 * kept, after the known ones, in their original order.
 */

export type Shape =
  | { kind: 'struct'; fields: ReadonlyArray<readonly [string, Shape | null]> }
  | { kind: 'map'; of: Shape | null }
  | { kind: 'list'; of: Shape };

/** A Go struct: these fields, in this order. */
export const struct = (fields: ReadonlyArray<readonly [string, Shape | null]>): Shape => ({ kind: 'struct', fields });
/** A Go map: keys sorted, values of shape `of`. */
export const map = (of: Shape | null = null): Shape => ({ kind: 'map', of });
/** A Go slice of `of`. */
export const list = (of: Shape): Shape => ({ kind: 'list', of });

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A copy of `value` with its keys in the order `shape` gives. */
export function orderKeys(value: unknown, shape: Shape | null): unknown {
  if (shape === null) return value;
  switch (shape.kind) {
    case 'list':
      return Array.isArray(value) ? value.map((v) => orderKeys(v, shape.of)) : value;
    case 'map': {
      if (!isObject(value)) return value;
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(value).sort()) out[k] = orderKeys(value[k], shape.of);
      return out;
    }
    case 'struct': {
      if (!isObject(value)) return value;
      const out: Record<string, unknown> = {};
      for (const [k, sub] of shape.fields) if (k in value) out[k] = orderKeys(value[k], sub);
      for (const k of Object.keys(value)) if (!(k in out)) out[k] = value[k];
      return out;
    }
  }
}
