import { Problem } from "../problem/index.js";
import { parseRequestTarget } from "../routing/request-target.js";
import type { Router } from "../routing/router.js";
import type { RequestContext, ResponseHead } from "./context.js";
import { inStageOrder, ROUTING_STAGE_INDEX, STAGES, type BodyTap, type Control, type Ending } from "./control.js";

/** One route, compiled: the controls it runs after routing, and those among them that see the answer. */
export interface RoutePlan {
  readonly name: string;
  readonly controls: readonly Control[];
  readonly responseHooks: readonly Control[];
  readonly doneHooks: readonly Control[];
}

export function routePlan<R extends object>(name: string, controls: readonly Control[], extra: R): RoutePlan & R {
  for (const control of controls) {
    if (STAGES.indexOf(control.stage) < ROUTING_STAGE_INDEX) throw new Error(`control ${control.name} runs before routing and cannot be a route's`);
  }
  const ordered = inStageOrder(controls);
  return {
    ...extra,
    name,
    controls: ordered,
    responseHooks: ordered.filter((c) => c.onResponse !== undefined),
    doneHooks: ordered.filter((c) => c.onDone !== undefined),
  };
}

/**
 * Runs a request: parse the target, the controls before routing, the route, the route's controls.
 * Every front end (gateway, decision API, framework adapters) runs its requests through one of
 * these; what happens after (forwarding, a decision, the framework's handler) is the front end's.
 * Awaits only what is pending: the common request (a cached key, the memory store, no body) goes
 * through without a promise.
 */
export class Pipeline<R extends RoutePlan> {
  private readonly before: readonly Control[];

  constructor(
    before: readonly Control[],
    private readonly router: Router<R>,
    private readonly targetOptions: { allowTrailingDots?: boolean } = {},
  ) {
    for (const control of before) {
      if (STAGES.indexOf(control.stage) >= ROUTING_STAGE_INDEX) throw new Error(`control ${control.name} runs after routing and cannot run before it`);
    }
    this.before = inStageOrder(before);
  }

  /** Returns once the request may go on, or `ctx.answer` is set; throws the `Problem` that stops it. */
  run(ctx: RequestContext): void | Promise<void> {
    ctx.target = parseRequestTarget(ctx.url, this.targetOptions);
    return this.continue(ctx, this.before, 0, true);
  }

  /** The route `run` matched, once it has. */
  planOf(ctx: RequestContext): R | undefined {
    return ctx.route?.plan as R | undefined;
  }

  /** Lets the route's controls see the answer's head before it goes out; the taps that want its body. */
  respond(ctx: RequestContext, head: ResponseHead): BodyTap[] | undefined {
    const hooks = this.planOf(ctx)?.responseHooks;
    if (hooks === undefined) return undefined;
    let taps: BodyTap[] | undefined;
    for (const hook of hooks) {
      const tap = hook.onResponse!(ctx, head);
      if (tap) (taps ??= []).push(tap);
    }
    return taps;
  }

  /** Once the answer is out: the route's controls end what they began for this request. */
  done(ctx: RequestContext, ending: Ending): void {
    const hooks = this.planOf(ctx)?.doneHooks;
    if (hooks === undefined) return;
    for (const hook of hooks) hook.onDone!(ctx, ending);
  }

  private continue(ctx: RequestContext, controls: readonly Control[], from: number, thenRoute: boolean): void | Promise<void> {
    for (let i = from; i < controls.length; i++) {
      const pending = controls[i]!.run(ctx);
      if (pending !== undefined) {
        return pending.then(() => (ctx.answer === undefined ? this.continue(ctx, controls, i + 1, thenRoute) : undefined));
      }
      if (ctx.answer !== undefined) return;
    }
    if (!thenRoute) return;
    const match = this.router.match(ctx.method, ctx.target.segments);
    if (match === undefined) throw new Problem("NOT_FOUND", "No route matches this request.");
    ctx.route = { name: match.value.name, params: match.params, plan: match.value };
    return this.continue(ctx, match.value.controls, 0, false);
  }
}
