/**
 * Every `name=value` pair of a `Cookie` header, in order, duplicates included. Written here rather
 * than taken from the `cookie` package because that parser keeps only the first pair of a name,
 * while upstream frameworks differ on first or last: a payload in a second `session=` pair would
 * be invisible to the shield yet read by the upstream. Quotes around a value are removed, as
 * parsers do; percent-decoding is left to the shield's normaliser, which also undoes it repeatedly.
 */
export function cookiePairs(header: string): [name: string, value: string][] {
  const pairs: [string, string][] = [];
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    const name = (eq === -1 ? "" : part.slice(0, eq)).trim();
    let value = (eq === -1 ? part : part.slice(eq + 1)).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (name !== "" || value !== "") pairs.push([name, value]);
  }
  return pairs;
}
