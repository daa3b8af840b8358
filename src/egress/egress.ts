import { lookup as systemLookup } from "node:dns/promises";
import { connect as netConnect, isIP, type LookupFunction, type Socket } from "node:net";
import { pipeline, Readable, type Transform } from "node:stream";
import zlib from "node:zlib";
import { Agent, Headers, Response, type Dispatcher, type RequestInit } from "undici";
import type { SecurityEvents } from "../events/security-events.js";
import { IpSet } from "../net/ip-set.js";
import { callerGone, CircuitOpenError, FAILING_STATUSES, maySendAgain, UpstreamGuard, type GuardObserver } from "../resilience/guard.js";
import { boundedLru } from "../util/bounded-lru.js";
import { parseIp, type IpAddress } from "../net/ip.js";
import { classifyAddress, isMetadataAddress, isMetadataHostName } from "./addresses.js";
import { EgressError, type EgressErrorCode } from "./errors.js";
import { egressSchema, type EgressOptionsInput, type EgressPolicy, type EgressRules } from "./schema.js";

/** A name's addresses, as `dns.lookup(name, { all: true })` gives them; tests pass a resolver they control. */
export type Resolver = (hostname: string) => Promise<readonly { address: string; family: number }[]>;

export interface EgressDeps {
  resolve?: Resolver | undefined;
  /** Each refusal is also a security event (`egress_refused`). */
  events?: Pick<SecurityEvents, "emit"> | undefined;
  /** Circuit changes and retries, for metrics. */
  observer?: GuardObserver | undefined;
  /** Certificate authorities trusted instead of Node's bundled ones (a private PKI). */
  ca?: string | readonly string[] | undefined;
}

export interface EgressRequestInit extends Omit<RequestInit, "dispatcher" | "redirect" | "window"> {
  /** Whose allow-lists apply; without one, the defaults. */
  tenant?: string | undefined;
}

export interface EgressRequestOptions {
  method?: string | undefined;
  headers?: Record<string, string> | undefined;
  body?: string | Uint8Array | Readable | null | undefined;
  tenant?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** undici's answer, with the URL it finally came from (after any redirects followed). */
export type EgressResponse = Dispatcher.ResponseData & { url: string };

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const CROSS_ORIGIN_DROPPED = new Set(["authorization", "cookie", "proxy-authorization"]);
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

const systemResolver: Resolver = (hostname) => systemLookup(hostname, { all: true, verbatim: true });

/**
 * Outbound HTTP that cannot be turned against the inside network. A URL is checked (scheme,
 * userinfo, port, host lists, and the address itself when it is a literal); a name is resolved
 * once, on connecting, every address it resolves to is checked, and the socket connects to the
 * checked address: there is no second lookup for a rebinding name to answer differently. Host
 * and SNI stay the name. Redirects are followed only when the rules allow some, each hop checked
 * again from the start. Responses are capped in size, time and media type.
 */
export class Egress {
  readonly policy: EgressPolicy;
  /** Pooled connections stay on the address they were checked for. */
  private readonly agents = new Map<string, Agent>();
  /** Destinations are chosen by callers, so their breakers are bounded in number; an evicted one starts closed again. */
  private readonly guards = boundedLru<string, UpstreamGuard>(10_000);
  private readonly allowedAddresses: IpSet;
  private readonly resolver: Resolver;
  private readonly rulesByTenant = new Map<string, EgressRules>();
  private readonly defaults: EgressRules;

  constructor(
    options: EgressOptionsInput | EgressPolicy = {},
    private readonly deps: EgressDeps = {},
  ) {
    this.policy = egressSchema.parse(options);
    const { schemes, ports, hosts, contentTypes, maxRedirects, maxResponseBytes, timeoutMs, allowAddresses, tenants } = this.policy;
    const defaults: EgressRules = { schemes, ports, hosts, contentTypes, maxRedirects, maxResponseBytes, timeoutMs };
    this.defaults = defaults;
    for (const [tenant, own] of Object.entries(tenants)) {
      this.rulesByTenant.set(tenant, { ...defaults, ...Object.fromEntries(Object.entries(own).filter(([, value]) => value !== undefined)) });
    }
    this.allowedAddresses = IpSet.parse(allowAddresses);
    this.resolver = deps.resolve ?? systemResolver;
  }

  rulesFor(tenant: string | undefined): EgressRules {
    return (tenant === undefined ? undefined : this.rulesByTenant.get(tenant)) ?? this.defaults;
  }

  /** Everything that can be judged from the URL alone. Returns it parsed, as it will be fetched. */
  checkUrl(input: string | URL, rules: EgressRules): URL {
    let url: URL;
    try {
      // The WHATWG parser is the one undici uses: it reads `0x7f.1`, `2130706433` and `017700000001` as 127.0.0.1, so the check below sees what the connection would.
      url = new URL(input);
    } catch {
      throw new EgressError("EGRESS_INVALID_URL", "The URL is not valid.");
    }
    const scheme = url.protocol.slice(0, -1);
    const host = url.hostname.replace(/\.$/, "");
    if ((scheme !== "http" && scheme !== "https") || !rules.schemes.includes(scheme)) throw new EgressError("EGRESS_SCHEME_DENIED", `The scheme ${scheme} is not allowed.`, host);
    if (url.username !== "" || url.password !== "") throw new EgressError("EGRESS_USERINFO_DENIED", "URLs with credentials in them are not allowed.", host);
    const port = url.port === "" ? (scheme === "https" ? 443 : 80) : Number(url.port);
    this.checkPort(port, rules, host);
    this.checkHost(host, rules);
    if (isMetadataHostName(host)) throw new EgressError("EGRESS_ADDRESS_DENIED", `The host ${host} is a cloud metadata service, which is not allowed.`, host, "metadata");
    const literal = literalAddress(host);
    if (literal !== undefined) this.checkAddress(literal, host);
    return url;
  }

  checkPort(port: number, rules: EgressRules, host: string): void {
    if (rules.ports.deny.includes(port) || !rules.ports.allow.includes(port)) throw new EgressError("EGRESS_PORT_DENIED", `Port ${port} is not allowed.`, host);
  }

  checkHost(host: string, rules: EgressRules): void {
    if (hostMatches(host, rules.hosts.deny) || !hostMatches(host, rules.hosts.allow)) throw new EgressError("EGRESS_HOST_DENIED", `The host ${host} is not allowed.`, host);
  }

  /** Resolves a name (or reads a literal) and checks every address; one refused address refuses them all. */
  async resolve(hostname: string): Promise<IpAddress[]> {
    const literal = literalAddress(hostname);
    if (literal !== undefined) {
      this.checkAddress(literal, hostname);
      return [literal!];
    }
    let answers: readonly { address: string; family: number }[];
    try {
      answers = await this.resolver(hostname);
    } catch {
      throw new EgressError("EGRESS_DNS_FAILED", `The host ${hostname} could not be resolved.`, hostname);
    }
    if (answers.length === 0) throw new EgressError("EGRESS_DNS_FAILED", `The host ${hostname} has no addresses.`, hostname);
    // A name that answers with a public and a private address is refused whole: which one a connection gets is the attacker's choice, not ours.
    return answers.map(({ address }) => {
      const parsed = parseIp(address) ?? null;
      this.checkAddress(parsed, hostname);
      return parsed!;
    });
  }

  checkAddress(address: IpAddress | null, host: string): void {
    if (address === null) throw new EgressError("EGRESS_ADDRESS_DENIED", `The host ${host} is an address in a form that is not allowed.`, host, "unparseable");
    const kind = classifyAddress(address);
    if (kind === undefined || (!isMetadataAddress(address) && this.allowedAddresses.has(address))) return;
    throw new EgressError("EGRESS_ADDRESS_DENIED", `The host ${host} is, or resolves to, a ${kind.replace(/_/g, " ")} address, which is not allowed.`, host, kind);
  }

  /**
   * undici's `request`, with the checks: the answer with its body as a Node stream, as received
   * (not decoded). A redirect that is not followed comes back as it is (3xx with its Location).
   * The body errors with `EGRESS_RESPONSE_TOO_LARGE` past the cap and `EGRESS_TIMEOUT` at the
   * deadline, which covers the whole exchange; a body left unread is given up at the deadline.
   */
  async request(input: string | URL, options: EgressRequestOptions = {}): Promise<EgressResponse> {
    const { tenant, signal: callerSignal } = options;
    const rules = this.rulesFor(tenant);
    const deadline = new AbortController();
    let answered: Readable | undefined;
    const timer = setTimeout(() => {
      const late = new EgressError("EGRESS_TIMEOUT", `No complete answer within ${rules.timeoutMs} ms.`, url?.hostname);
      // The body first, so that its reader sees the timeout rather than undici's "aborted".
      answered?.destroy(late);
      deadline.abort(late);
    }, rules.timeoutMs);
    const signal = callerSignal ? AbortSignal.any([callerSignal, deadline.signal]) : deadline.signal;
    let url: URL | undefined;
    try {
      url = this.checkUrl(input, rules);
      let method = (options.method ?? "GET").toUpperCase();
      let body = options.body ?? null;
      // Host is the URL's, always: a caller's own would send a request for one site to another's address.
      const headers = Object.fromEntries(Object.entries(options.headers ?? {}).filter(([name]) => name.toLowerCase() !== "host"));
      for (let hop = 0; ; hop++) {
        const target = url;
        const send = async () => {
          try {
            const answer = await this.agentFor(rules).request({ origin: target.origin, path: target.pathname + target.search, method, headers, body, signal });
            return { value: answer, failed: FAILING_STATUSES.has(answer.statusCode) };
          } catch (error) {
            // A refusal of ours, or the caller giving up, is no fault of the destination's.
            throw callerSignal?.aborted || asEgressError(error, target.hostname).isRefusal ? callerGone(error as Error) : error;
          }
        };
        const replayable = body === null || typeof body === "string" || body instanceof Uint8Array;
        const mayRetry = replayable
          ? (error: unknown) => !signal.aborted && maySendAgain(method, error) && asEgressError(error, target.hostname).code === "EGRESS_UNAVAILABLE"
          : undefined;
        const response = await this.guardFor(url.origin).run(send, mayRetry);
        const location = response.headers.location;
        if (!REDIRECTS.has(response.statusCode) || typeof location !== "string" || rules.maxRedirects === 0) {
          this.checkAnswer(response, rules, url, method);
          answered = response.body;
          response.body.once("close", () => clearTimeout(timer));
          return Object.assign(response, { url: url.href });
        }
        await response.body.dump();
        if (hop >= rules.maxRedirects) throw new EgressError("EGRESS_TOO_MANY_REDIRECTS", `More than ${rules.maxRedirects} redirects.`, url.hostname);
        const next = this.redirectTarget(url, location, rules);
        if (response.statusCode === 303 ? method !== "HEAD" : (response.statusCode === 301 || response.statusCode === 302) && method === "POST") {
          method = "GET";
          body = null;
          for (const name of Object.keys(headers)) if (name.toLowerCase().startsWith("content-")) delete headers[name];
        } else if (body !== null && typeof body !== "string" && !(body instanceof Uint8Array)) {
          throw new EgressError("EGRESS_REDIRECT_DENIED", "A streamed request body cannot be sent again to a redirect's target.", next.hostname);
        }
        if (next.origin !== url.origin) for (const name of Object.keys(headers)) if (CROSS_ORIGIN_DROPPED.has(name.toLowerCase())) delete headers[name];
        url = next;
      }
    } catch (error) {
      clearTimeout(timer);
      if (callerSignal?.aborted && error === callerSignal.reason) throw error;
      throw this.reported(asEgressError(deadline.signal.aborted ? deadline.signal.reason : error, url?.hostname), tenant);
    }
  }

  /**
   * A TCP connection for a tunnel (the proxy's CONNECT): `authority` is `host:port`, checked as
   * the https URL it stands for (scheme, port and host lists, the address), then connected
   * through the checked lookup. Resolves once connected; the bytes are the caller's to relay.
   */
  async connect(authority: string, options: { tenant?: string | undefined } = {}): Promise<Socket> {
    const rules = this.rulesFor(options.tenant);
    let url: URL | undefined;
    try {
      // Only host:port, as RFC 9110 §9.3.6 has it: anything else could parse as a URL naming another host.
      if (!/^(\[[0-9a-fA-F:.]+\]|[^\s/\\@:?#[\]%]+):\d{1,5}$/.test(authority)) throw new EgressError("EGRESS_INVALID_URL", "A tunnel's target is host:port.");
      url = this.checkUrl(`https://${authority}/`, rules);
      const target = url;
      const port = Number(target.port === "" ? 443 : target.port);
      const open = () =>
        new Promise<{ value: Socket; failed: boolean }>((resolve, reject) => {
          const socket = netConnect({ host: target.hostname.replace(/^\[|\]$/g, ""), port, lookup: this.checkedLookup, timeout: this.policy.connectTimeoutMs });
          socket.once("connect", () => {
            socket.setTimeout(0);
            resolve({ value: socket, failed: false });
          });
          socket.once("timeout", () => socket.destroy(Object.assign(new Error("connect timeout"), { code: "UND_ERR_CONNECT_TIMEOUT" })));
          socket.once("error", (error) => reject(asEgressError(error, target.hostname).isRefusal ? callerGone(error) : error));
        });
      // Nothing has been sent on a connection that failed to open, so it may always be tried again.
      return await this.guardFor(target.origin).run(open, (error) => asEgressError(error, target.hostname).code === "EGRESS_UNAVAILABLE");
    } catch (error) {
      throw this.reported(asEgressError(error, url?.hostname), options.tenant);
    }
  }

  /**
   * The WHATWG `fetch` shape over `request`: what oauth4webapi and most code expect. The body is
   * decoded (gzip, deflate, br) as fetch decodes it, and the cap counts the decoded bytes, since a
   * small gzip can inflate to gigabytes.
   */
  async fetch(input: string | URL, init: EgressRequestInit = {}): Promise<Response> {
    const method = (init.method ?? "GET").toUpperCase();
    const response = await this.request(input, { method, headers: plainHeaders(init.headers), body: requestBody(init.body), tenant: init.tenant, signal: init.signal ?? undefined });
    const headers = new Headers();
    for (const name in response.headers) {
      const value = response.headers[name];
      if (Array.isArray(value)) for (const one of value) headers.append(name, one);
      else if (value !== undefined) headers.append(name, value);
    }
    const init2 = { status: response.statusCode, statusText: response.statusText, headers };
    if (method === "HEAD" || NULL_BODY_STATUSES.has(response.statusCode)) {
      await response.body.dump();
      return new Response(null, init2);
    }
    const host = new URL(response.url).hostname;
    const { maxResponseBytes } = this.rulesFor(init.tenant);
    const decoded = decodedBody(response.body, headers.get("content-encoding"));
    const chunks = decoded[Symbol.asyncIterator]();
    let received = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          try {
            const chunk = await chunks.next();
            if (chunk.done) return controller.close();
            const bytes = chunk.value as Buffer;
            received += bytes.byteLength;
            if (received > maxResponseBytes) throw this.reported(new EgressError("EGRESS_RESPONSE_TOO_LARGE", `The response is larger than ${maxResponseBytes} bytes.`, host), init.tenant);
            controller.enqueue(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
          } catch (error) {
            discard(decoded);
            discard(response.body);
            controller.error(asEgressError(error, host));
          }
        },
        cancel: () => {
          discard(decoded);
          discard(response.body);
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(body, init2);
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((agent) => agent.close()));
  }

  private guardFor(origin: string): UpstreamGuard {
    let guard = this.guards.get(origin);
    if (guard === undefined) {
      const events = this.deps.events;
      guard = new UpstreamGuard(origin, { retries: this.policy.retries, circuitBreaker: this.policy.circuitBreaker }, {
        circuitChanged: (upstream, state) => {
          this.deps.observer?.circuitChanged?.(upstream, state);
          if (state === "open") events?.emit({ type: "upstream_circuit_open", severity: "warning", detail: { upstream, via: "egress" } });
          if (state === "closed") events?.emit({ type: "upstream_circuit_closed", severity: "info", detail: { upstream, via: "egress" } });
        },
        retried: (upstream) => this.deps.observer?.retried?.(upstream),
      });
      this.guards.set(origin, guard);
    }
    return guard;
  }

  /** One agent per (time limit, size cap) in use: undici enforces both per agent, at no cost per request. */
  private agentFor(rules: EgressRules): Agent {
    const key = `${rules.timeoutMs} ${rules.maxResponseBytes}`;
    let agent = this.agents.get(key);
    if (agent === undefined) {
      agent = new Agent({
        headersTimeout: rules.timeoutMs,
        bodyTimeout: rules.timeoutMs,
        maxResponseSize: rules.maxResponseBytes,
        connect: { timeout: this.policy.connectTimeoutMs, lookup: this.checkedLookup, ...(this.deps.ca === undefined ? {} : { ca: this.deps.ca as string | string[] }) },
      });
      this.agents.set(key, agent);
    }
    return agent;
  }

  private redirectTarget(from: URL, location: string, rules: EgressRules): URL {
    let next: URL;
    try {
      next = new URL(location, from);
    } catch {
      throw new EgressError("EGRESS_REDIRECT_DENIED", "The redirect's Location is not a valid URL.", from.hostname);
    }
    if (next.protocol !== "https:" && next.protocol !== "http:") throw new EgressError("EGRESS_REDIRECT_DENIED", `A redirect to ${next.protocol.slice(0, -1)} is not followed.`, from.hostname);
    if (from.protocol === "https:" && next.protocol === "http:") throw new EgressError("EGRESS_REDIRECT_DENIED", "A redirect from https to http is not followed.", next.hostname);
    return this.checkUrl(next, rules);
  }

  /** The media type, and a declared length over the cap, refused before the body is read. */
  private checkAnswer(response: Dispatcher.ResponseData, rules: EgressRules, url: URL, method: string): void {
    const refuse = (code: EgressErrorCode, message: string): never => {
      discard(response.body);
      throw new EgressError(code, message, url.hostname);
    };
    const contentType = response.headers["content-type"];
    if (rules.contentTypes.length > 0 && !mediaTypeAllowed(typeof contentType === "string" ? contentType : null, rules.contentTypes)) refuse("EGRESS_CONTENT_TYPE_DENIED", "The response's media type is not allowed.");
    if (method !== "HEAD" && Number(response.headers["content-length"] ?? 0) > rules.maxResponseBytes) refuse("EGRESS_RESPONSE_TOO_LARGE", `The response is larger than ${rules.maxResponseBytes} bytes.`);
  }

  private reported(error: EgressError, tenant: string | undefined): EgressError {
    if (error.isRefusal) {
      const detail: Record<string, string> = { code: error.code };
      if (error.host !== undefined) detail.host = error.host;
      if (error.reason !== undefined) detail.reason = error.reason;
      this.deps.events?.emit({ type: "egress_refused", severity: "warning", tenant_id: tenant, detail });
    }
    return error;
  }

  /** For `net.connect`: the checked addresses stand in for the system's answer, so the socket goes where the check looked. */
  private readonly checkedLookup: LookupFunction = (hostname, options, callback) => {
    this.resolve(hostname.startsWith("[") ? hostname.slice(1, -1) : hostname).then(
      (addresses) => {
        const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
        if (wanted.length === 0) return callback(new EgressError("EGRESS_DNS_FAILED", `The host ${hostname} has no address of the family asked for.`, hostname), "", 0);
        if (options.all === true) return (callback as unknown as (e: null, all: { address: string; family: number }[]) => void)(null, wanted.map((a) => ({ address: a.text, family: a.family })));
        callback(null, wanted[0]!.text, wanted[0]!.family);
      },
      (error: Error) => callback(error as NodeJS.ErrnoException, "", 0),
    );
  };
}

export function createEgress(options: EgressOptionsInput = {}, deps: EgressDeps = {}): Egress {
  return new Egress(options, deps);
}

/** Given up unread. undici's body stream errors when destroyed unfinished, which is expected here. */
function discard(body: Readable): void {
  body.on("error", () => undefined);
  body.destroy();
}

/** Request headers as undici's `request` takes them, from anything `fetch` takes. */
function plainHeaders(init: EgressRequestInit["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  if (init !== undefined) new Headers(init).forEach((value, name) => (out[name] = value));
  return out;
}

function requestBody(body: EgressRequestInit["body"]): EgressRequestOptions["body"] {
  if (body === undefined || body === null || typeof body === "string" || body instanceof Uint8Array) return body ?? null;
  if (body instanceof URLSearchParams) return body.toString();
  if (body instanceof ReadableStream) return Readable.fromWeb(body as import("node:stream/web").ReadableStream);
  return body as EgressRequestOptions["body"];
}

/** Undoes the codings fetch undoes; an unknown one leaves the body as it came, as fetch does. */
function decodedBody(body: Readable, contentEncoding: string | null): Readable {
  if (contentEncoding === null) return body;
  const codings = contentEncoding.toLowerCase().split(",").map((c) => c.trim()).filter((c) => c !== "" && c !== "identity");
  // More codings than any server uses is a decompression attack (curl's and urllib3's judgement): left encoded, counted as received.
  if (codings.length > 5) return body;
  const decoders: Transform[] = [];
  for (const coding of codings.reverse()) {
    const make = DECODERS[coding];
    if (make === undefined) return body;
    decoders.push(make());
  }
  if (decoders.length === 0) return body;
  return (pipeline as unknown as (...streams: unknown[]) => Readable)(body, ...decoders, () => undefined);
}

const ZLIB_LENIENT = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };
const DECODERS: Record<string, () => Transform> = {
  gzip: () => zlib.createGunzip(ZLIB_LENIENT),
  "x-gzip": () => zlib.createGunzip(ZLIB_LENIENT),
  deflate: () => zlib.createInflate(ZLIB_LENIENT),
  br: () => zlib.createBrotliDecompress(),
};

/** The address a host names literally; null for a literal in a form too odd to judge (a zone, leading zeros), which is refused. */
function literalAddress(host: string): IpAddress | null | undefined {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (isIP(bare) === 0) return undefined;
  return parseIp(bare) ?? null;
}

function hostMatches(host: string, patterns: readonly string[]): boolean {
  for (const pattern of patterns) {
    if (pattern === "*" || pattern === host) return true;
    if (pattern.startsWith("*.") && host.endsWith(pattern.slice(1))) return true;
  }
  return false;
}

function mediaTypeAllowed(contentType: string | null, allowed: readonly string[]): boolean {
  if (contentType === null) return false;
  const essence = contentType.split(";")[0]!.trim().toLowerCase();
  const slash = essence.indexOf("/");
  if (slash <= 0) return false;
  return allowed.some((type) => {
    const wanted = type.toLowerCase();
    return wanted === essence || (wanted.endsWith("/*") && wanted.slice(0, -1) === essence.slice(0, slash + 1));
  });
}

/** What undici's `fetch failed` and socket errors mean for the caller, without their messages. */
function asEgressError(error: unknown, host: string | undefined): EgressError {
  if (error instanceof CircuitOpenError) return new EgressError("EGRESS_CIRCUIT_OPEN", `${error.upstream} has been failing; it is not tried again for ${error.retryAfterSeconds} s.`, host, undefined, error.retryAfterSeconds);
  for (let cause = error; cause !== undefined && cause !== null; cause = (cause as { cause?: unknown }).cause) {
    if (cause instanceof EgressError) return cause;
    const code = (cause as { code?: string }).code;
    if (code === "UND_ERR_RES_EXCEEDED_MAX_SIZE") return new EgressError("EGRESS_RESPONSE_TOO_LARGE", "The response is larger than allowed.", host);
    if (code === "UND_ERR_CONNECT_TIMEOUT" || code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") return new EgressError("EGRESS_TIMEOUT", "The destination did not answer in time.", host);
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return new EgressError("EGRESS_DNS_FAILED", `The host ${host ?? ""} could not be resolved.`, host);
    if (typeof cause !== "object") break;
  }
  return new EgressError("EGRESS_UNAVAILABLE", "The destination could not be reached.", host);
}
