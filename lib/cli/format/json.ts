/** JSON as Go's json.Encoder writes it: compact, HTML-escaped, one line. */

/**
 * Serialises `value` with `<`, `>`, `&`, U+2028 and U+2029 escaped like Go,
 * followed by a newline. `undefined` becomes `null`.
 */
export function renderJson(value: unknown): string {
  const text = JSON.stringify(value === undefined ? null : value) ?? 'null';
  return (
    text.replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')) + '\n'
  );
}

/** Pretty JSON with tab indent and no HTML escaping, as `incus query` prints it. */
export function renderPrettyJson(value: unknown): string {
  return JSON.stringify(value, null, '\t') + '\n';
}
