import type { IncomingHttpHeaders } from "node:http";
import { Readable } from "node:stream";
import type { Logger } from "../observability/logger.js";
import type { RequestContext } from "../pipeline/context.js";
import type { Control } from "../pipeline/control.js";
import { Problem } from "../problem/index.js";
import { cookiePairs } from "../server/cookies.js";
import { ATTACK_CLASSES, Detector } from "./detectors.js";
import { FieldExclusions } from "./exclusions.js";
import { Inspection, blockingClasses, isAttack, type Finding, type ShieldCheck } from "./inspect.js";
import { hasDuplicateKeys } from "../util/json-keys.js";
import { decodeParameter, parameterPairs } from "../util/parameters.js";
import { inspectMultipart } from "./multipart.js";
import type { ShieldPolicy } from "./schema.js";

/**
 * Credentials are opaque tokens, checked by authentication itself; cookies are inspected pair by
 * pair (`cookie.<name>`), since upstreams read their values like any other input.
 */
const UNINSPECTED_HEADERS = new Set(["authorization", "x-api-key", "cookie", "content-length", "connection", "accept-encoding"]);
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });
/** Charsets in which text that is valid UTF-8 means what the shield read; others are refused. */
const ASCII_COMPATIBLE_CHARSETS = new Set(["utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin1"]);

type Mode = "block" | "monitor" | "off";

/**
 * The shield: size limits, encoding, structure and content checks and attack detectors over the
 * path, query, headers and JSON, form or text body. Each check blocks or only logs (`monitor`) as
 * the route says. A body it inspects is read whole (up to `maxBodyBytes`) and forwarded from
 * memory; other bodies stream as usual.
 */
export function shieldControl(policy: ShieldPolicy, logger: Logger): Control {
  // A URL to an internal host is as often a user's own as an attack: reported unless the route says otherwise.
  const modeOf = (check: ShieldCheck): Mode => policy.checks[check] ?? (check === "ssrf" ? "monitor" : policy.mode);
  const limits = {
    ...policy,
    detector: new Detector({ classes: new Set(ATTACK_CLASSES.filter((c) => modeOf(c) !== "off")), paranoia: policy.paranoia }),
    exclusions: new FieldExclusions(policy.except),
    refusesLongFields: modeOf("fieldLength") === "block",
  };
  const conclude = (ctx: RequestContext, inspection: Inspection): void => {
    const findings = inspection.finish().filter((f) => modeOf(f.check) !== "off");
    if (findings.length === 0) return;
    const over = blockingClasses(findings, policy.threshold, policy.thresholds, inspection.scoresBeyondReport);
    const refuses = (f: Finding) => modeOf(f.check) === "block" && (!isAttack(f.check) || over.has(f.check));
    const blocking = findings.find(refuses);
    logger.warn(
      {
        req_id: ctx.requestId,
        route: ctx.route?.name,
        client: ctx.clientAddress.text,
        tenant_id: ctx.principal?.tenantId,
        shield_findings: findings.map((f) => ({
          check: f.check,
          rule: f.rule,
          field: f.field,
          class: isAttack(f.check) ? f.check : undefined,
          score: f.score,
          mode: isAttack(f.check) && modeOf(f.check) === "block" && !over.has(f.check) ? "below threshold" : modeOf(f.check),
        })),
      },
      blocking === undefined ? "shield findings (monitor)" : "shield refused a request",
    );
    if (blocking !== undefined) throw problemFor(blocking);
  };
  // Synchronous unless there is a body to read.
  const run = (ctx: RequestContext): void | Promise<void> => {
    const inspection = new Inspection(limits);
    if (ctx.url.length > policy.maxUrlLength) inspection.add("urlLength", `max ${policy.maxUrlLength} characters`, "url");
    let headerBytes = 0;
    for (const part of ctx.rawHeaders) headerBytes += part.length + 2;
    if (headerBytes > policy.maxHeaderBytes) inspection.add("headerSize", `max ${policy.maxHeaderBytes} bytes`, "headers");
    // A decided refusal on size needs no further reading; everything else is inspected.
    refuseEarly(inspection, modeOf);
    for (const segment of ctx.target.segments) inspection.text("path", segment);
    inspectQuery(ctx.target.query, inspection);
    const { headers } = ctx;
    for (const name in headers) {
      if (UNINSPECTED_HEADERS.has(name)) continue;
      const value = headers[name];
      for (const v of Array.isArray(value) ? value : [value ?? ""]) inspection.text(`header.${name}`, v, "header");
    }
    if (headers.cookie !== undefined) inspectCookies(headers.cookie, inspection);
    if (policy.inspectBody && hasBody(headers)) {
      if (ctx.body === undefined) {
        // Something before the shield consumed the body (a framework's body parser run first):
        // what the handler will act on cannot be inspected, so nothing passes.
        logger.error({ req_id: ctx.requestId, route: ctx.route?.name }, "the request body was read before the shield could inspect it: run Portcullis before any body parser");
        throw new Problem("INTERNAL");
      }
      return inspectBody(ctx, ctx.body, policy, modeOf, inspection).then(() => conclude(ctx, inspection));
    }
    conclude(ctx, inspection);
  };
  return {
    name: "shield",
    stage: "shield",
    needsBody: policy.inspectBody ? "the shield inspects request bodies (set shield.inspectBody: false to run its other checks)" : undefined,
    run,
  };
}

function refuseEarly(inspection: Inspection, modeOf: (check: ShieldCheck) => Mode): void {
  const blocking = inspection.findings.find((f) => (f.check === "urlLength" || f.check === "headerSize" || f.check === "bodySize") && modeOf(f.check) === "block");
  if (blocking !== undefined) throw problemFor(blocking);
}

function hasBody(headers: IncomingHttpHeaders): boolean {
  return (headers["content-length"] !== undefined && headers["content-length"] !== "0") || headers["transfer-encoding"] !== undefined;
}

/**
 * `a=1&b=2` (a query, or a form body), each part percent-decoded strictly: bytes that are not
 * UTF-8 are an encoding finding, where URLSearchParams would quietly turn them into U+FFFD.
 */
function inspectQuery(query: string, inspection: Inspection, prefix: "query" | "body" = "query"): void {
  if (query === "") return;
  // A form field a framework reads as `_method`, under either reading of `;`.
  if (prefix === "body") {
    for (const [rawName] of parameterPairs(query)) {
      const name = decodeParameter(rawName);
      if (name !== undefined) inspection.formField(`${prefix}.${name}`, name);
    }
  }
  for (const pair of query.split("&")) {
    const eq = pair.indexOf("=");
    const [rawName, rawValue] = eq === -1 ? [pair, ""] : [pair.slice(0, eq), pair.slice(eq + 1)];
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(rawName.replaceAll("+", " "));
      value = decodeURIComponent(rawValue.replaceAll("+", " "));
    } catch {
      inspection.add("encoding", `${prefix} is not valid UTF-8 percent-encoding`, prefix);
      continue;
    }
    inspection.text(`${prefix}.${name}`, name, "key");
    inspection.text(`${prefix}.${name}`, value);
  }
}

function inspectCookies(header: string, inspection: Inspection): void {
  for (const [name, value] of cookiePairs(header)) {
    inspection.text(`cookie.${name}`, name, "key");
    inspection.text(`cookie.${name}`, value, "header");
  }
}

async function inspectBody(ctx: RequestContext, source: AsyncIterable<Uint8Array>, policy: ShieldPolicy, modeOf: (check: ShieldCheck) => Mode, inspection: Inspection): Promise<void> {
  const { headers } = ctx;
  const limit = policy.maxBodyBytes;
  const tooLarge = () => {
    inspection.add("bodySize", `max ${limit} bytes`, "body");
    refuseEarly(inspection, modeOf);
  };
  if (Number(headers["content-length"] ?? 0) > limit) return tooLarge();
  // Node keeps the first of two Content-Types, an upstream may keep the last: the shield could
  // read a body as binary that the upstream parses as a form or multipart.
  if (headerCount(ctx.rawHeaders, "content-type") > 1) {
    inspection.add("encoding", "more than one Content-Type", "body");
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const stream = source[Symbol.asyncIterator]();
  for (let next = await stream.next(); !next.done; next = await stream.next()) {
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) {
      tooLarge();
      // Monitor mode: what was read goes on first, then the rest of the stream, uninspected.
      ctx.forwardBody = Readable.from(
        (async function* () {
          yield* chunks;
          for (let rest = await stream.next(); !rest.done; rest = await stream.next()) yield rest.value;
        })(),
      );
      return;
    }
  }
  const body = Buffer.concat(chunks);
  ctx.forwardBody = body;
  // A compressed body cannot be read here, and the upstream may well inflate it: refused, not waved through.
  const contentEncoding = (headers["content-encoding"] ?? "identity").trim().toLowerCase();
  if (contentEncoding !== "identity" && contentEncoding !== "") {
    inspection.add("encoding", "compressed bodies cannot be inspected", "body");
    return;
  }
  const type = (headers["content-type"] ?? "").toLowerCase();
  const declared = /^application\/([a-z0-9.+-]*\+)?json\b/.test(type)
    ? "json"
    : type.startsWith("application/x-www-form-urlencoded")
      ? "form"
      : type.startsWith("multipart/form-data")
        ? "multipart"
        : type.startsWith("text/")
          ? "text"
          : undefined;
  // The shield reads text as UTF-8; an upstream honouring another charset could read other
  // characters from the same bytes (UTF-7 spells `<` as `+ADw-`, UTF-16 hides it between NULs).
  // Named twice, a parser that keeps the last one would read another charset than this one.
  const charsets = [...type.matchAll(/;\s*charset\s*=\s*"?([^";\s]+)/g)].map((m) => m[1]!);
  if (declared !== undefined && (charsets.length > 1 || (charsets.length === 1 && !ASCII_COMPATIBLE_CHARSETS.has(charsets[0]!)))) {
    inspection.add("encoding", "a charset other than UTF-8", "body");
    return;
  }
  // Multipart is read part by part: one binary file part must not make its text fields uninspectable.
  if (declared === "multipart") return inspectMultipart(body, headers["content-type"]!, inspection);
  let text: string;
  try {
    text = STRICT_UTF8.decode(body);
  } catch {
    // Text that is not UTF-8 is refused; a body that never claimed to be text is binary.
    if (declared !== undefined) inspection.add("encoding", "body is not valid UTF-8", "body");
    return;
  }
  if (declared === "form") return inspectQuery(text, inspection, "body");
  if (declared === "text") return inspection.text("body", text);
  // Declared JSON, or UTF-8 under any other type: some upstreams parse JSON whatever the header
  // says, so a mislabelled body is read as what it is rather than skipped.
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    if (declared === "json") inspection.add("encoding", "body is not valid JSON", "body");
    else inspection.text("body", text);
    return;
  }
  if (hasDuplicateKeys(text, parsed)) inspection.add("encoding", "a JSON object names a key twice", "body");
  inspection.json("body", parsed);
}

function headerCount(rawHeaders: readonly string[], name: string): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.length === name.length && rawHeaders[i]!.toLowerCase() === name) count++;
  return count;
}

function problemFor(finding: Finding): Problem {
  // Field names can be the client's own keys: echoed back, but never at length.
  const field = finding.field.length > 100 ? `${finding.field.slice(0, 100)}…` : finding.field;
  const where = { field };
  switch (finding.check) {
    case "bodySize":
      return new Problem("PAYLOAD_TOO_LARGE", `The body may be at most ${finding.rule.replace("max ", "")}.`);
    case "headerSize":
      return new Problem("HEADERS_TOO_LARGE");
    case "urlLength":
      return new Problem("URI_TOO_LONG");
    case "encoding":
      return new Problem("INVALID_ENCODING", `The ${field} could not be read: ${finding.rule}.`, where);
    case "prototypePollution":
      return new Problem("MALICIOUS_INPUT", `The ${field} was refused.`, { ...where, class: "prototype_pollution" });
    case "methodOverride":
      return new Problem("BAD_REQUEST", "Method overrides (_method) are not accepted: send the request with the method itself.", where);
    default:
      if (isAttack(finding.check)) return new Problem("MALICIOUS_INPUT", `The ${field} was refused.`, { ...where, class: finding.check });
      return new Problem("INPUT_REJECTED", `The ${field} is outside the allowed limits (${finding.rule}).`, { ...where, check: finding.check });
  }
}
