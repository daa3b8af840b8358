/** Every string token of a JSON text: names and string values alike. */
const JSON_STRING = /"(?:[^"\\]|\\.)*"/g;

/**
 * Whether some object in `text` names a key twice. `JSON.parse` keeps the last value of a
 * duplicated key, other parsers keep the first; a shield that inspects one of them while the
 * upstream acts on the other can be walked past (`{"q":"<attack>","q":"fine"}`). No parser keeps
 * both, so a JSON text holding more string tokens than its parsed form has names and string values
 * lost some of them to a duplicate. `parsed` must be `JSON.parse(text)`.
 */
export function hasDuplicateKeys(text: string, parsed: unknown): boolean {
  let kept = 0;
  // A stack rather than recursion: the parsed value may be nested deeper than the call stack allows.
  const pending: unknown[] = [parsed];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === "string") kept++;
    else if (Array.isArray(value)) for (const item of value) pending.push(item);
    else if (typeof value === "object" && value !== null) {
      for (const item of Object.values(value)) {
        kept++;
        pending.push(item);
      }
    }
  }
  let tokens = 0;
  for (JSON_STRING.lastIndex = 0; JSON_STRING.exec(text) !== null; ) tokens++;
  return tokens !== kept;
}
