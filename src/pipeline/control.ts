import type { RequestContext, ResponseHead } from "./context.js";

/**
 * The named stages, in the order a request meets them. Before routing the route is unknown (the
 * controls there apply to every request); after it, each route runs the controls its policy names.
 * A control is placed by its stage, so the order of a route's controls never depends on the order
 * they were written in.
 */
export const STAGES = [
  // before routing
  "system",
  "address-lists",
  "blocks",
  "endpoints",
  "cors",
  "method",
  // after routing
  "authenticate",
  "tenant-address-lists",
  "authorize",
  "step-up",
  "limit",
  "webhook",
  "shield",
  "return-url",
  // After every check that can refuse on the request alone, so a refused request claims no key;
  // before the quota, so a replay is not charged again.
  "idempotency",
  "quota",
  // Last: only a request every control let through is recorded, and recorded before it goes on.
  "audit",
] as const;
export type Stage = (typeof STAGES)[number];

export const ROUTING_STAGE_INDEX = STAGES.indexOf("authenticate");

/**
 * One step of the pipeline. `run` returns to let the request through, throws a `Problem` to stop
 * it, or sets `ctx.answer` to answer it itself; it answers synchronously whenever it can (a cached
 * key, the memory counter store, a request without a body) and returns a promise only when it
 * must wait, since every `await` costs a turn of the microtask queue on every request.
 *
 * `onResponse` sees the answer's head before it goes out (forwarded, or in an adapter the
 * handler's): a quota priced by the upstream is charged there. It may return a tap to see the
 * body as it is relayed (idempotency stores it). `onDone` is told, once the answer is out, whether
 * the request reached the upstream: what a control set up in `run` for this request ends there.
 */
export interface Control {
  readonly name: string;
  readonly stage: Stage;
  /** The control reads the request body: front ends that never see it (the decision API) refuse it at load. */
  readonly needsBody?: string | undefined;
  /** The control needs the answer's head (`onResponse`), which the decision API never sees. */
  readonly needsResponse?: string | undefined;
  run(ctx: RequestContext): void | Promise<void>;
  onResponse?(ctx: RequestContext, head: ResponseHead): BodyTap | undefined | void;
  onDone?(ctx: RequestContext, ending: Ending): void;
}

/**
 * Sees the answer's body as it is relayed; `end` only when all of it was. A promise from `end`
 * holds back the answer's last bytes and its end until it settles (idempotency stores the answer
 * first), so that no client holds a complete answer before what replays it is durable; a
 * rejected one cuts the client's connection instead of ending the answer cleanly. Front ends that
 * cannot hold it back (the adapters) do not wait.
 */
export interface BodyTap {
  write(chunk: Buffer): void;
  end(): void | Promise<void>;
}

/**
 * How a request ended, for `onDone`. `not_reached`: refused or answered by Portcullis, or the
 * upstream could not be connected to. `reached`: sent, so the upstream may have acted on it,
 * whether or not its answer came back.
 */
export interface Ending {
  readonly upstream: "not_reached" | "reached";
}

/** Sorts controls into stage order; controls of one stage keep the order they were given in. */
export function inStageOrder(controls: readonly Control[]): Control[] {
  return controls
    .map((control, i) => ({ control, i, stage: STAGES.indexOf(control.stage) }))
    .sort((a, b) => a.stage - b.stage || a.i - b.i)
    .map((c) => c.control);
}
