import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import type { BodyTap } from "../pipeline/control.js";
import { callerGone } from "../resilience/guard.js";

/** Logged for a request whose client left before the answer began (nginx's convention). */
const CLIENT_CLOSED_REQUEST = 499;

class ClientGoneError extends Error {
  override readonly name = "ClientGoneError";
}

/**
 * Writes one upstream answer into the client's response as undici receives it, pausing the
 * upstream while the client is slow to read.
 *
 * Written against undici's dispatch handler API rather than its `stream()`: `stream()` wraps every
 * request in an AsyncResource and watches the response with `finished()` (several listeners per
 * request), and until the answer starts it offers no way to give up the upstream request when the
 * client goes away, so a slow upstream kept working for nobody. Here one `close` listener does both.
 */
class ResponseRelay implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private started = false;
  private settled = false;
  private taps: BodyTap[] | undefined;
  /**
   * With taps, the newest chunk is held back until the next one comes or the taps have ended: a
   * client that has read every byte of a Content-Length answer holds a complete success, however
   * long `res.end()` waits, so the last bytes must wait too.
   */
  private held: Buffer | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly writeHead: HeadWriter,
    private readonly fail: (error: Error) => void,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // An interim 1xx answer is not the answer.
    if (statusCode < 200) return;
    this.started = true;
    this.taps = this.writeHead(statusCode, headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // Data undici had in hand when the client left has nowhere to go.
    if (this.settled) return;
    let out = chunk;
    if (this.taps !== undefined) {
      for (const tap of this.taps) tap.write(chunk);
      [out, this.held] = [this.held ?? Buffer.alloc(0), chunk];
      if (out.length === 0) return;
    }
    if (!this.res.write(out)) {
      controller.pause();
      this.res.once("drain", () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.settled = true;
    const pending = this.taps?.map((tap) => tap.end()).filter((ended): ended is Promise<void> => ended instanceof Promise);
    const finish = () => (this.held === undefined ? this.res.end() : this.res.end(this.held));
    if (pending === undefined || pending.length === 0) finish();
    // What could not be made durable is not acknowledged: a cut connection, never a clean end.
    else void Promise.all(pending).then(finish, () => this.res.destroy());
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    // After `clientClosed` this is the abort it caused: there is nobody left to answer.
    if (this.settled) return;
    this.settled = true;
    // Once the head is gone, the only honest signal left for a broken body is a cut connection.
    if (this.started) this.res.destroy();
    else this.fail(error);
  }

  /** The client's connection closed, answered or not: an unfinished upstream request is given up. */
  clientClosed(): void {
    if (this.settled) return;
    this.settled = true;
    if (!this.started) this.res.statusCode = CLIENT_CLOSED_REQUEST;
    this.controller?.abort(new ClientGoneError("the client closed the connection"));
  }
}

/** Writes the answer's head; returns whatever wants to see its body. */
export type HeadWriter = (statusCode: number, headers: IncomingHttpHeaders) => BodyTap[] | undefined;

/**
 * Sends one request upstream and relays the answer. Resolves once the client's response is
 * closed (sent, or cut); rejects with undici's error when the upstream fails before answering,
 * so that the caller can still answer the client.
 */
export function relayResponse(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  res: ServerResponse,
  writeHead: HeadWriter,
): Promise<void> {
  return new Promise((resolve, reject) => {
    // The client left while the request waited (on a control, an audit commit): nothing is sent,
    // and the upstream is not blamed. Sending it would cut a half-sent request off at the upstream
    // and count as its failure: clients hanging up could open the breaker for everyone.
    if (res.destroyed || res.closed) {
      res.statusCode = CLIENT_CLOSED_REQUEST;
      return reject(callerGone(new ClientGoneError("the client closed the connection before the request was forwarded")));
    }
    const relay = new ResponseRelay(res, writeHead, reject);
    res.once("close", () => {
      resolve();
      relay.clientClosed();
    });
    dispatcher.dispatch(options, relay);
  });
}
