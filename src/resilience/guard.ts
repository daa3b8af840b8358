import { BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, ExponentialBackoff, fullJitterGenerator, handleWhen, retry, type CircuitBreakerPolicy, type RetryPolicy } from "cockatiel";
import { z } from "zod";

export const retriesSchema = z
  .strictObject({
    /** Further tries after the first, for requests that may be sent again; 0 turns retries off. */
    attempts: z.number().int().min(0).max(5).default(1),
    /** Backoff doubles from here, each wait drawn at random below it (full jitter). */
    baseDelayMs: z.number().int().min(1).max(10_000).default(50),
    maxDelayMs: z.number().int().min(1).max(60_000).default(1_000),
  })
  .default({ attempts: 1, baseDelayMs: 50, maxDelayMs: 1_000 });

export const circuitBreakerSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Failures in a row (no connection, timeout, 502/503/504) that open the circuit. */
    consecutiveFailures: z.number().int().min(1).max(1_000).default(5),
    /** How long the circuit stays open before one probe is let through. */
    halfOpenAfterMs: z.number().int().min(100).max(600_000).default(10_000),
  })
  .default({ enabled: true, consecutiveFailures: 5, halfOpenAfterMs: 10_000 });

export const resilienceSchema = z.strictObject({ retries: retriesSchema, circuitBreaker: circuitBreakerSchema });

export type ResiliencePolicy = z.infer<typeof resilienceSchema>;

/** RFC 9110's idempotent methods: sending one again has the effect of sending it once. */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
/** Failures before a connection existed: the destination cannot have seen the request. */
const NEVER_SENT_CODES: ReadonlySet<string> = new Set(["UND_ERR_CONNECT_TIMEOUT", "ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

/** Whether an error code (undici's or the socket's) proves that nothing was sent. */
export function isNeverSentCode(code: string): boolean {
  return NEVER_SENT_CODES.has(code);
}

/** Whether `error`, or an error it wraps, proves that the request never left. */
export function neverSent(error: unknown): boolean {
  for (let cause = error; typeof cause === "object" && cause !== null; cause = (cause as { cause?: unknown }).cause) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string" && NEVER_SENT_CODES.has(code)) return true;
  }
  return false;
}

/**
 * Whether a request that failed with `error` may be sent again. An idempotent method may; any
 * other only when it provably never left: a cut connection or a timeout after sending says nothing
 * of whether the destination acted on it, and an `Idempotency-Key` does not make a retry safe,
 * since the gateway (not the destination) may be the one keeping the record.
 */
export function maySendAgain(method: string, error: unknown): boolean {
  return IDEMPOTENT_METHODS.has(method) || neverSent(error);
}

/** An upstream's own answers that count against it: a gateway or server of its own failing. */
export const FAILING_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);
export type CircuitStateName = "closed" | "open" | "half_open";

export interface GuardObserver {
  circuitChanged?(upstream: string, state: CircuitStateName): void;
  retried?(upstream: string): void;
}

/** Thrown instead of calling the upstream while its circuit is open. */
export class CircuitOpenError extends Error {
  override readonly name = "CircuitOpenError";

  constructor(
    readonly upstream: string,
    /** Whole seconds until a probe may go through, at least 1. */
    readonly retryAfterSeconds: number,
  ) {
    super(`the circuit for ${upstream} is open`);
  }
}

/** What one call to the upstream came to, as far as the breaker is concerned. */
export interface Attempt<T> {
  value: T;
  /** An answer that counts against the upstream (a 502, 503 or 504 of its own). */
  failed: boolean;
}

const STATE_NAMES: Record<CircuitState, CircuitStateName> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half_open",
  [CircuitState.Isolated]: "open",
};

/**
 * One upstream's breaker and retry policy, on cockatiel. The breaker opens after the configured
 * failures in a row and, after `halfOpenAfterMs`, lets one probe through: its success closes the
 * circuit, its failure opens it again. Retries wait with exponential backoff and full jitter,
 * and only where the caller says the request may be sent again.
 */
export class UpstreamGuard {
  private readonly breaker: CircuitBreakerPolicy | undefined;
  private readonly retrier: RetryPolicy | undefined;
  private openedAt = 0;

  constructor(
    readonly upstream: string,
    private readonly policy: ResiliencePolicy,
    observer: GuardObserver = {},
    private readonly now: () => number = Date.now,
  ) {
    const { circuitBreaker: breaker, retries } = policy;
    if (breaker.enabled) {
      // Errors count against the upstream, except a caller's decision not to go on (isCallerGone).
      this.breaker = circuitBreaker(
        handleWhen((error) => !isCallerGone(error)).orWhenResult((result) => (result as Attempt<unknown>).failed),
        { halfOpenAfter: breaker.halfOpenAfterMs, breaker: new ConsecutiveBreaker(breaker.consecutiveFailures) },
      );
      this.breaker.onBreak(() => (this.openedAt = this.now()));
      this.breaker.onStateChange((state) => observer.circuitChanged?.(upstream, STATE_NAMES[state]));
    }
    if (retries.attempts > 0) {
      this.retrier = retry(
        handleWhen((error) => error instanceof RetryableFailure),
        { maxAttempts: retries.attempts, backoff: new ExponentialBackoff({ initialDelay: retries.baseDelayMs, maxDelay: retries.maxDelayMs, generator: fullJitterGenerator }) },
      );
      this.retrier.onRetry(() => observer.retried?.(upstream));
    }
  }

  get state(): CircuitStateName {
    return this.breaker === undefined ? "closed" : STATE_NAMES[this.breaker.state];
  }

  /**
   * Runs `attempt` under the breaker; when it throws and `mayRetry(error)` allows, tries again
   * after a backoff, up to the configured attempts. `mayRetry` is asked after each failure, since
   * whether a request may go again can change while it runs (the upstream began to answer).
   * Throws CircuitOpenError without calling `attempt` while the circuit is open.
   */
  async run<T>(attempt: () => Promise<Attempt<T>>, mayRetry?: (error: unknown) => boolean): Promise<T> {
    const guarded = this.breaker === undefined ? attempt : () => this.breaker!.execute(attempt);
    try {
      if (this.retrier === undefined || mayRetry === undefined) return (await guarded()).value;
      const once = async () => {
        try {
          return await guarded();
        } catch (error) {
          throw !(error instanceof BrokenCircuitError) && mayRetry(error) ? new RetryableFailure(error) : error;
        }
      };
      return (await this.retrier.execute(once)).value;
    } catch (error) {
      const cause = error instanceof RetryableFailure ? error.cause : error;
      if (cause instanceof BrokenCircuitError) throw new CircuitOpenError(this.upstream, this.retryAfterSeconds());
      throw cause;
    }
  }

  private retryAfterSeconds(): number {
    const remaining = this.openedAt + this.policy.circuitBreaker.halfOpenAfterMs - this.now();
    return Math.max(1, Math.ceil(remaining / 1000));
  }
}

/** Carries a failure the retry policy may act on; unwrapped before anything leaves the guard. */
class RetryableFailure extends Error {
  constructor(override readonly cause: unknown) {
    super("retryable");
  }
}

/** Errors the caller raises to stop (its client left, its own deadline): no fault of the upstream's. */
export function isCallerGone(error: unknown): boolean {
  return (error as { callerGone?: boolean }).callerGone === true;
}

/** Marks an error as the caller's own stop, so the breaker does not count it. */
export function callerGone<E extends Error>(error: E): E {
  return Object.assign(error, { callerGone: true });
}
