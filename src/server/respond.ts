import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import { GATEWAY_CSP } from "../headers/security-headers.js";

/** A JSON answer written by the gateway itself (health, key sets, admin API). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: OutgoingHttpHeaders = {},
  contentType = "application/json",
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": contentType,
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    "content-security-policy": GATEWAY_CSP,
  });
  res.end(text);
}
