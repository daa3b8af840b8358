import type { IncomingMessage, ServerResponse } from "node:http";
import type { Principal } from "../identity/principal.js";
import type { RequestTarget } from "../routing/request-target.js";

/** The one object a request's controls read and annotate on its way through the pipeline. */
export interface RequestContext {
  readonly requestId: string;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly target: RequestTarget;
  readonly clientIp: string;
  principal: Principal | undefined;
}

/** One step of a route's pipeline: returns to let the request through, throws a Problem to stop it. */
export type Control = (ctx: RequestContext) => void | Promise<void>;
