import type { OutgoingHttpHeaders } from "node:http";
import { GATEWAY_CSP } from "../headers/security-headers.js";
import type { Answer } from "../pipeline/context.js";

/** A JSON answer written by Portcullis itself (health, key sets, admin API, the vault). */
export function jsonAnswer(status: number, body: unknown, contentType = "application/json"): Answer {
  const text = JSON.stringify(body);
  return { outcome: "served", status, headers: jsonHeaders(text, contentType), body: text };
}

function jsonHeaders(text: string, contentType: string): OutgoingHttpHeaders {
  return {
    "content-type": contentType,
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    "content-security-policy": GATEWAY_CSP,
  };
}
