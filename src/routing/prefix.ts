/**
 * Whether a path starts with the given segments, folding case as routes do (unless the policy makes
 * paths case-sensitive): a gateway endpoint under `/portcullis/v1/…` must not be reachable as
 * `/Portcullis/v1/…` by a catch-all route and the upstream instead.
 */
export function prefixMatcher(prefix: readonly string[], caseSensitive: boolean): (segments: readonly string[]) => boolean {
  const parts = caseSensitive ? prefix : prefix.map((p) => p.toLowerCase());
  return (segments) => parts.every((part, i) => segments[i] !== undefined && (caseSensitive ? segments[i] : segments[i]!.toLowerCase()) === part);
}
