import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JSONWebKeySet } from "jose";
import { ASSERTION_ISSUER, AUDIT_CHECKPOINT_TYPE, type IdentitySigner } from "../forward/identity-assertion.js";
import { ChainWalk, type Verification } from "./chain.js";
import { fieldsOfExport, type AuditStore, type ExportedRecord } from "./store.js";

export const EXPORT_FORMAT = "portcullis-audit-v1";

/**
 * A tenant's trail as JSON lines: a header, every record up to the head (no personal field: the
 * chain holds only their commitments), and the head signed with the gateway's Ed25519 key. The
 * head is read first, so records appended while the export runs are left for the next one.
 */
export async function* exportTrail(store: AuditStore, signer: IdentitySigner, tenantId: string): AsyncGenerator<string> {
  const checkpoint = await store.checkpoint(tenantId);
  const jws = await signer.signCheckpoint({ tenant_id: tenantId, seq: checkpoint.seq, head: checkpoint.head });
  yield JSON.stringify({ type: "export", format: EXPORT_FORMAT, tenant_id: tenantId });
  for await (const record of store.exported(tenantId, checkpoint.seq)) yield JSON.stringify(record);
  yield JSON.stringify({ type: "checkpoint", jws });
}

export interface ExportVerification extends Verification {
  tenant_id: string;
  /** The signed checkpoint the chain was checked against. */
  checkpoint: { seq: number; head: string; signed_at: string };
}

/**
 * Checks an export with no database: the checkpoint's signature against the gateway's key set (a
 * JWKS document, or its URL), then the chain up to it. Throws when the file is not an export or
 * its checkpoint is not signed by a key of the set; a broken chain is a result, naming the record.
 */
export async function verifyExport(lines: Iterable<string> | AsyncIterable<string>, keys: JSONWebKeySet | URL): Promise<ExportVerification> {
  const keySet = keys instanceof URL ? createRemoteJWKSet(keys) : createLocalJWKSet(keys);
  let tenantId: string | undefined;
  let jws: string | undefined;
  const records: ExportedRecord[] = [];
  for await (const line of lines) {
    if (line.trim() === "") continue;
    const item = JSON.parse(line) as { type?: string; format?: string; tenant_id?: string; jws?: string };
    if (item.type === "export") {
      if (item.format !== EXPORT_FORMAT || typeof item.tenant_id !== "string") throw new Error(`not a ${EXPORT_FORMAT} export`);
      tenantId = item.tenant_id;
    } else if (item.type === "record") records.push(item as ExportedRecord);
    else if (item.type === "checkpoint" && typeof item.jws === "string") jws = item.jws;
    else throw new Error("an export line of no known type");
  }
  if (tenantId === undefined || jws === undefined) throw new Error("the export lacks its header or its signed checkpoint");
  const { payload } = await jwtVerify<{ tenant_id: string; seq: number; head: string }>(jws, keySet, { issuer: ASSERTION_ISSUER, typ: AUDIT_CHECKPOINT_TYPE, algorithms: ["EdDSA"] });
  if (payload.tenant_id !== tenantId) throw new Error("the checkpoint is another tenant's");
  const walk = new ChainWalk(tenantId, { seq: payload.seq, head: payload.head });
  // Anyone can extend a hash chain: only what the signed checkpoint covers is vouched for.
  const signed = records.filter((r) => r.seq <= payload.seq);
  for (const record of signed) if (!walk.push(fieldsOfExport(record), Buffer.from(record.hash, "hex"))) break;
  const result = walk.result();
  const checkpoint = { seq: payload.seq, head: payload.head, signed_at: new Date(payload.iat! * 1000).toISOString() };
  if (result.ok && signed.length < records.length) return { ...result, ok: false, firstBad: { seq: payload.seq + 1, reason: "beyond_checkpoint" }, tenant_id: tenantId, checkpoint };
  return { ...result, tenant_id: tenantId, checkpoint };
}
