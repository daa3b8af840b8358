import { lookup as systemLookup } from "node:dns/promises";
import { isIP, type LookupFunction } from "node:net";
import { Agent, fetch as undiciFetch, Headers, Response, type RequestInit } from "undici";
import type { SecurityEvents } from "../events/security-events.js";
import { IpSet } from "../net/ip-set.js";
import { parseIp, type IpAddress } from "../net/ip.js";
import { classifyAddress, isMetadataAddress } from "./addresses.js";
import { EgressError, type EgressErrorCode } from "./errors.js";
import { egressSchema, type EgressOptionsInput, type EgressPolicy, type EgressRules } from "./schema.js";

/** A name's addresses, as `dns.lookup(name, { all: true })` gives them; tests pass a resolver they control. */
export type Resolver = (hostname: string) => Promise<readonly { address: string; family: number }[]>;

export interface EgressDeps {
  resolve?: Resolver | undefined;
  /** Each refusal is also a security event (`egress_refused`). */
  events?: Pick<SecurityEvents, "emit"> | undefined;
  /** Certificate authorities trusted instead of Node's bundled ones (a private PKI). */
  ca?: string | readonly string[] | undefined;
}

export interface EgressRequestInit extends Omit<RequestInit, "dispatcher" | "redirect"> {
  /** Whose allow-lists apply; without one, the defaults. */
  tenant?: string | undefined;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const CROSS_ORIGIN_DROPPED = ["authorization", "cookie", "proxy-authorization"];

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
  readonly dispatcher: Agent;
  private readonly allowedAddresses: IpSet;
  private readonly resolver: Resolver;
  private readonly rulesByTenant = new Map<string, EgressRules>();
  private readonly defaults: EgressRules;

  constructor(
    options: EgressOptionsInput | EgressPolicy = {},
    private readonly deps: EgressDeps = {},
  ) {
    this.policy = egressSchema.parse(options);
    const { allowAddresses, connectTimeoutMs, tenants, ...defaults } = this.policy;
    this.defaults = defaults;
    for (const [tenant, own] of Object.entries(tenants)) {
      this.rulesByTenant.set(tenant, { ...defaults, ...Object.fromEntries(Object.entries(own).filter(([, value]) => value !== undefined)) });
    }
    this.allowedAddresses = IpSet.parse(allowAddresses);
    this.resolver = deps.resolve ?? systemResolver;
    this.dispatcher = new Agent({ connect: { timeout: connectTimeoutMs, lookup: this.checkedLookup, ...(deps.ca === undefined ? {} : { ca: deps.ca as string | string[] }) } });
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
   * `fetch`, with the checks. A redirect that is not followed comes back as it is (status 3xx
   * with its Location). A response body longer than the cap errors its stream with
   * `EGRESS_RESPONSE_TOO_LARGE`, and the whole exchange with `EGRESS_TIMEOUT` once the time is up.
   */
  async fetch(input: string | URL, init: EgressRequestInit = {}): Promise<Response> {
    const { tenant, signal: callerSignal, ...rest } = init;
    const rules = this.rulesFor(tenant);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new EgressError("EGRESS_TIMEOUT", `No complete answer within ${rules.timeoutMs} ms.`)), rules.timeoutMs);
    const signal = callerSignal ? AbortSignal.any([callerSignal, deadline.signal]) : deadline.signal;
    let url: URL | undefined;
    try {
      url = this.checkUrl(input, rules);
      let method = (rest.method ?? "GET").toUpperCase();
      let body = rest.body;
      const headers = new Headers(rest.headers);
      for (let hop = 0; ; hop++) {
        const response = await undiciFetch(url, { ...rest, method, body, headers, redirect: "manual", signal, dispatcher: this.dispatcher });
        const location = response.headers.get("location");
        if (!REDIRECTS.has(response.status) || location === null || rules.maxRedirects === 0) return this.capped(response, rules, url, timer, tenant);
        await response.body?.cancel();
        if (hop >= rules.maxRedirects) throw new EgressError("EGRESS_TOO_MANY_REDIRECTS", `More than ${rules.maxRedirects} redirects.`, url.hostname);
        const next = this.redirectTarget(url, location, rules);
        if (response.status === 303 ? method !== "HEAD" : (response.status === 301 || response.status === 302) && method === "POST") {
          method = "GET";
          body = null;
          for (const name of ["content-type", "content-length", "content-encoding", "content-language", "content-location"]) headers.delete(name);
        } else if (body instanceof ReadableStream || (typeof body === "object" && body !== null && Symbol.asyncIterator in body)) {
          throw new EgressError("EGRESS_REDIRECT_DENIED", "A streamed request body cannot be sent again to a redirect's target.", next.hostname);
        }
        if (next.origin !== url.origin) for (const name of CROSS_ORIGIN_DROPPED) headers.delete(name);
        url = next;
      }
    } catch (error) {
      clearTimeout(timer);
      if (callerSignal?.aborted && error === callerSignal.reason) throw error;
      throw this.reported(asEgressError(error, url?.hostname), tenant);
    }
  }

  close(): Promise<void> {
    return this.dispatcher.close();
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

  /** The response with its media type checked and its body counted against the cap; the deadline ends with the body. */
  private capped(response: Response, rules: EgressRules, url: URL, timer: NodeJS.Timeout, tenant: string | undefined): Response {
    const refuse = (code: EgressErrorCode, message: string): never => {
      void response.body?.cancel();
      throw new EgressError(code, message, url.hostname);
    };
    if (rules.contentTypes.length > 0 && !mediaTypeAllowed(response.headers.get("content-type"), rules.contentTypes)) refuse("EGRESS_CONTENT_TYPE_DENIED", "The response's media type is not allowed.");
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > rules.maxResponseBytes) refuse("EGRESS_RESPONSE_TOO_LARGE", `The response is larger than ${rules.maxResponseBytes} bytes.`);
    const source = response.body;
    if (source === null) {
      clearTimeout(timer);
      return response;
    }
    const reader = source.getReader();
    let received = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          try {
            const chunk = await reader.read();
            if (chunk.done) {
              clearTimeout(timer);
              controller.close();
              return;
            }
            received += chunk.value.byteLength;
            if (received > rules.maxResponseBytes) {
              const tooLarge = this.reported(new EgressError("EGRESS_RESPONSE_TOO_LARGE", `The response is larger than ${rules.maxResponseBytes} bytes.`, url.hostname), tenant);
              clearTimeout(timer);
              void reader.cancel(tooLarge);
              controller.error(tooLarge);
              return;
            }
            controller.enqueue(chunk.value);
          } catch (error) {
            clearTimeout(timer);
            controller.error(asEgressError(error, url.hostname));
          }
        },
        cancel: (reason) => {
          clearTimeout(timer);
          return reader.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
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
  for (let cause = error; cause !== undefined && cause !== null; cause = (cause as { cause?: unknown }).cause) {
    if (cause instanceof EgressError) return cause;
    const code = (cause as { code?: string }).code;
    if (code === "UND_ERR_CONNECT_TIMEOUT" || code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") return new EgressError("EGRESS_TIMEOUT", "The destination did not answer in time.", host);
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return new EgressError("EGRESS_DNS_FAILED", `The host ${host ?? ""} could not be resolved.`, host);
    if (typeof cause !== "object") break;
  }
  return new EgressError("EGRESS_UNAVAILABLE", "The destination could not be reached.", host);
}
