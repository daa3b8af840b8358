import { Response } from "undici";
import type { Inspection } from "./inspect.js";

/**
 * A part header that makes parsers disagree on a field's text: a transfer encoding other than the
 * identity ones and base64 (Go's reader decodes quoted-printable, undici's does not, so `=27`
 * would be a quote to one and text to the other), or a charset other than UTF-8 (UTF-7 spells
 * `<script>` as `+ADw-script+AD4-`).
 */
const AMBIGUOUS_PART_HEADER = /^content-transfer-encoding:[ \t]*(?!(7bit|8bit|binary|base64)[ \t]*\r?$)|^content-type:.*;[ \t]*charset=(?!"?(utf-8|us-ascii)"?[ \t]*(;|\r?$))/im;

/**
 * Inspects a multipart/form-data body field by field with undici's parser (the WHATWG algorithm
 * that `Response.formData()` runs): each field name as a key, each text field as a value, each
 * file's name as a value (`../../etc/passwd` is an attack wherever it is written). File contents
 * are not inspected: an upload is binary as often as not. A body that does not parse, a text field
 * that is not UTF-8, or a part header parsers read differently is an encoding finding, so that
 * no part can carry a payload past the shield by being ambiguous.
 */
export async function inspectMultipart(body: Buffer, contentType: string, inspection: Inspection): Promise<void> {
  const boundary = plainBoundary(contentType);
  if (boundary === undefined) {
    inspection.add("encoding", "the multipart boundary is not a plain token", "body");
    return;
  }
  const headerBlocks = partHeaders(body, boundary);
  if (headerBlocks.some((headers) => AMBIGUOUS_PART_HEADER.test(headers))) {
    inspection.add("encoding", "a multipart part declares a transfer encoding or charset parsers disagree on", "body");
    return;
  }
  // Parsers pick different file names when a part gives both `filename` and `filename*` (undici
  // and browsers prefer `filename*`, PHP reads only `filename`): every one of them is inspected.
  for (const headers of headerBlocks) {
    const { field, fileNames } = declaredNames(headers);
    for (const name of fileNames) inspection.text(`body.${field}.filename`, name);
  }
  let form: Awaited<ReturnType<Response["formData"]>>;
  try {
    form = await new Response(body, { headers: { "content-type": contentType } }).formData();
  } catch {
    inspection.add("encoding", "body is not valid multipart/form-data", "body");
    return;
  }
  for (const [name, value] of form) {
    const field = `body.${name}`;
    inspection.formField(field, name);
    inspection.text(field, name, "key");
    if (typeof value !== "string") {
      inspection.text(`${field}.filename`, value.name);
    } else if (value.includes("\uFFFD")) {
      // The parser decodes text fields leniently; a replacement character means bytes that were not UTF-8.
      inspection.add("encoding", "a multipart text field is not valid UTF-8", field);
    } else {
      inspection.text(field, value);
    }
  }
}

/**
 * The one `boundary` parameter, when it is made of RFC 2046's boundary characters only. The part
 * headers are checked here on the boundary read by this regex, the fields by undici's MIME parser:
 * with no quotes or backslashes to unescape, and a single `boundary` parameter, both read the same
 * delimiter, so no part can be split one way for the header check and another for the fields.
 */
function plainBoundary(contentType: string): string | undefined {
  if ((contentType.match(/;\s*boundary\s*=/gi) ?? []).length !== 1) return undefined;
  const match = /;\s*boundary=(?:"([0-9A-Za-z'()+_,\-./:=? ]{1,70})"|([0-9A-Za-z'()+_,\-./:=?]{1,70}))\s*(?:;|$)/i.exec(contentType);
  return match === null ? undefined : (match[1] ?? match[2]);
}

const QUOTED_OR_TOKEN = String.raw`("(?:[^"\\\r\n]|\\.)*"|[^;\r\n]*)`;
const FIELD_NAME_PARAMETER = new RegExp(String.raw`;\s*name\s*=\s*` + QUOTED_OR_TOKEN, "i");
const FILE_NAME_PARAMETER = new RegExp(String.raw`;\s*filename(\*?)\s*=\s*` + QUOTED_OR_TOKEN, "gi");

/** A part's field name and every file name its Content-Disposition declares, plain or RFC 8187 (`UTF-8''%2e%2e`), decoded. */
function declaredNames(headers: string): { field: string; fileNames: string[] } {
  const disposition = /^content-disposition:(.*)$/im.exec(headers)?.[1] ?? "";
  const parameter = (raw: string) => {
    const value = raw.trim();
    return Buffer.from(value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, "$1") : value, "latin1").toString("utf8");
  };
  const field = parameter(FIELD_NAME_PARAMETER.exec(disposition)?.[1] ?? "");
  const fileNames: string[] = [];
  for (const [, extended, raw] of disposition.matchAll(FILE_NAME_PARAMETER)) {
    const value = parameter(raw!);
    if (extended !== "*") {
      fileNames.push(value);
      continue;
    }
    const encoded = value.slice(value.indexOf("'", value.indexOf("'") + 1) + 1);
    try {
      fileNames.push(decodeURIComponent(encoded));
    } catch {
      fileNames.push(encoded);
    }
  }
  return { field, fileNames };
}

/** The header block of every part, as text: what follows each boundary line up to the blank line. */
function partHeaders(body: Buffer, boundary: string): string[] {
  const delimiter = Buffer.from(`--${boundary}\r\n`, "latin1");
  const blocks: string[] = [];
  for (let at = body.indexOf(delimiter); at !== -1; at = body.indexOf(delimiter, at + delimiter.length)) {
    const start = at + delimiter.length;
    const end = body.indexOf("\r\n\r\n", start);
    if (end === -1) break;
    blocks.push(body.subarray(start, end).toString("latin1"));
  }
  return blocks;
}
