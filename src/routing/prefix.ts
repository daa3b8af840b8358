import type { Answer, RequestContext } from "../pipeline/context.js";
import type { Control } from "../pipeline/control.js";

/**
 * Whether a path starts with the given segments, folding case as routes do (unless the policy makes
 * paths case-sensitive): a gateway endpoint under `/portcullis/v1/…` must not be reachable as
 * `/Portcullis/v1/…` by a catch-all route and the upstream instead.
 */
export function prefixMatcher(prefix: readonly string[], caseSensitive: boolean): (segments: readonly string[]) => boolean {
  const parts = caseSensitive ? prefix : prefix.map((p) => p.toLowerCase());
  return (segments) => parts.every((part, i) => segments[i] !== undefined && (caseSensitive ? segments[i] : segments[i]!.toLowerCase()) === part);
}

/**
 * A control serving every path under `prefix` itself, in the pipeline's "endpoints" stage (after
 * address lists and blocks, before routes): the vault, outbound webhooks, connections. The
 * request is never forwarded; `serve` answers it or throws the Problem that refuses it.
 */
export function prefixEndpoint(name: string, prefix: readonly string[], caseSensitive: boolean, serve: (ctx: RequestContext) => Promise<Answer>): Control {
  const under = prefixMatcher(prefix, caseSensitive);
  const route = Object.freeze({ name: `(${name})`, params: Object.freeze({}) });
  return {
    name,
    stage: "endpoints",
    run(ctx) {
      // Every proxied request passes here: the answer for other paths is synchronous.
      if (!under(ctx.target.segments)) return;
      ctx.route = route;
      return serve(ctx).then((answer) => {
        ctx.answer = answer;
      });
    },
  };
}
