/** Headers that describe one connection, never to be passed to the next hop (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Hop-by-hop headers plus any the sender listed in its own `Connection` header. */
export function connectionScopedHeaders(connectionHeader: string | string[] | undefined): ReadonlySet<string> {
  // Nearly every message says one of these (Node upstreams always send keep-alive): no new set.
  if (connectionHeader === undefined || connectionHeader === "keep-alive" || connectionHeader === "close") return HOP_BY_HOP;
  const listed = (Array.isArray(connectionHeader) ? connectionHeader.join(",") : connectionHeader)
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== "");
  return listed.length === 0 ? HOP_BY_HOP : new Set([...HOP_BY_HOP, ...listed]);
}
