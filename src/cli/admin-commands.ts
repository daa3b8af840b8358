import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { JSONWebKeySet } from "jose";
import { AdminClient } from "./admin-client.js";
import { CliError, intOption } from "./errors.js";

const COMMON = `Common options:
  --json            print the API's JSON answer
  --data-dir DIR    where to find admin-token when PORTCULLIS_ADMIN_TOKEN is unset (default .portcullis)
  -h, --help        this text
Environment: PORTCULLIS_ADMIN_URL (default http://127.0.0.1:8081), PORTCULLIS_ADMIN_TOKEN.`;

export const TENANTS_HELP = `Usage:
  portcullis tenants create --name NAME
  portcullis tenants get ID
  portcullis tenants suspend ID      (its keys and tokens stop working at once)
  portcullis tenants activate ID
  portcullis tenants export ID --out FILE   (keys' metadata, limits, roles, usage, the audit trail; no secret, no personal data)
  portcullis tenants delete ID       (revokes, shreds and anonymises now; the rest goes after the grace period)
  portcullis tenants restore ID      (cancels a deletion in its grace period)
${COMMON}`;

export const RETENTION_HELP = `Usage:
  portcullis retention run   (the sweep, now, unless another node is running it; it also runs hourly in every gateway)
${COMMON}`;

export const KEYS_HELP = `Usage:
  portcullis keys create --tenant ID --env test|live [--scopes a,b] [--expires-in SECONDS]
  portcullis keys list --tenant ID
  portcullis keys rotate KEY_ID [--grace SECONDS]   (old key stays valid for the grace period, default 86400)
  portcullis keys revoke KEY_ID                     (effective immediately)
${COMMON}`;

export const VAULT_HELP = `Usage:
  portcullis vault status                             (live data keys per key-encryption key, all tenants)
  portcullis vault status --tenant ID                 (key versions, encryptions, secrets under each)
  portcullis vault rotate --tenant ID                 (new key version; new writes use it)
  portcullis vault rewrap --tenant ID [--batch N]     (re-seal every secret under the newest key)
  portcullis vault retire --tenant ID --min-version N (destroy older keys once no secret needs them)
  portcullis vault rewrap-keks                        (KEK rotation: rewrap every data key to the current KEK)
The vault must be on in the gateway (see README).
${COMMON}`;

export const SESSIONS_HELP = `Usage:
  portcullis sessions list --tenant ID [--subject SUBJECT]   (live gateway sessions, newest first)
  portcullis sessions revoke SESSION_ID --tenant ID          (ends within a second on every node)
  portcullis sessions sign-out --tenant ID --subject SUBJECT (every session of that user)
${COMMON}`;

export const ROLES_HELP = `Usage:
  portcullis roles get --tenant ID (--user SUBJECT | --key KEY_ID)
  portcullis roles set --tenant ID (--user SUBJECT | --key KEY_ID) --roles a,b   (replaces; --roles "" removes all)
The policy's roles map names to permissions; a change applies on every node within a second.
${COMMON}`;

interface Parsed {
  sub: string | undefined;
  id: string | undefined;
  values: Record<string, string | boolean | undefined>;
}

function parse(argv: string[], options: Record<string, { type: "string" | "boolean" }>): Parsed {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      ...options,
      json: { type: "boolean" },
      "data-dir": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (positionals.length > 2) throw new CliError(`unexpected argument ${positionals[2]}`);
  return { sub: positionals[0], id: positionals[1], values };
}

function required(value: string | boolean | undefined, what: string): string {
  if (typeof value !== "string" || value === "") throw new CliError(`${what} is required`);
  return value;
}

async function run(parsed: Parsed, action: (client: AdminClient) => Promise<unknown>, show: (result: never) => string): Promise<void> {
  const client = await AdminClient.fromEnvironment((parsed.values["data-dir"] as string | undefined) ?? ".portcullis");
  const result = await action(client);
  console.log(parsed.values.json ? JSON.stringify(result, null, 2) : show(result as never));
}

type Row = Record<string, unknown>;
const shown = (value: unknown): string =>
  Array.isArray(value)
    ? value.join(",")
    : value !== null && typeof value === "object"
      ? Object.entries(value)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(", ")
      : String(value);
const lines = (row: Row) =>
  Object.entries(row)
    .map(([k, v]) => `${k}: ${shown(v)}`)
    .join("\n");

export async function tenants(argv: string[]): Promise<void> {
  const parsed = parse(argv, { name: { type: "string" }, out: { type: "string" } });
  if (parsed.values.help || parsed.sub === undefined) return void console.log(TENANTS_HELP);
  const id = () => encodeURIComponent(required(parsed.id, "the tenant ID"));
  switch (parsed.sub) {
    case "create":
      return run(parsed, (c) => c.call("POST", "/admin/v1/tenants", { name: required(parsed.values.name, "--name") }), lines);
    case "get":
      return run(parsed, (c) => c.call("GET", `/admin/v1/tenants/${id()}`), lines);
    case "suspend":
    case "activate":
    case "restore":
      return run(parsed, (c) => c.call("POST", `/admin/v1/tenants/${id()}/${parsed.sub}`), lines);
    case "delete":
      return run(parsed, (c) => c.call("DELETE", `/admin/v1/tenants/${id()}`), lines);
    case "export": {
      const out = required(parsed.values.out, "--out");
      return run(
        parsed,
        async (c) => {
          await writeFile(out, `${JSON.stringify(await c.call("POST", `/admin/v1/tenants/${id()}/export`), null, 2)}\n`, { mode: 0o600 });
          return { file: out };
        },
        (r: { file: string }) => `the tenant's export bundle is in ${r.file}`,
      );
    }
    default:
      throw new CliError(`unknown command "tenants ${parsed.sub}"\n\n${TENANTS_HELP}`);
  }
}

export async function keys(argv: string[]): Promise<void> {
  const parsed = parse(argv, {
    tenant: { type: "string" },
    env: { type: "string" },
    scopes: { type: "string" },
    "expires-in": { type: "string" },
    grace: { type: "string" },
  });
  const v = parsed.values;
  if (v.help || parsed.sub === undefined) return void console.log(KEYS_HELP);
  const tenant = () => encodeURIComponent(required(v.tenant, "--tenant"));
  const keyId = () => encodeURIComponent(required(parsed.id, "the key ID"));
  const issued = (row: Row) => `${lines(row)}\n\nThe key is shown this once. Store it now.`;
  switch (parsed.sub) {
    case "create": {
      const env = required(v.env, "--env");
      const scopes = typeof v.scopes === "string" ? v.scopes.split(",").filter((s) => s !== "") : [];
      const expiresIn = typeof v["expires-in"] === "string" ? intOption(v["expires-in"], "--expires-in", 60, 315_360_000) : undefined;
      return run(parsed, (c) => c.call("POST", `/admin/v1/tenants/${tenant()}/keys`, { env, scopes, expires_in: expiresIn }), issued);
    }
    case "list":
      return run(
        parsed,
        (c) => c.call("GET", `/admin/v1/tenants/${tenant()}/keys`),
        (r: { keys: Row[] }) => (r.keys.length === 0 ? "no keys" : r.keys.map(lines).join("\n\n")),
      );
    case "rotate": {
      const grace = typeof v.grace === "string" ? intOption(v.grace, "--grace", 0, 2_592_000) : undefined;
      return run(parsed, (c) => c.call("POST", `/admin/v1/keys/${keyId()}/rotate`, grace === undefined ? {} : { grace_seconds: grace }), issued);
    }
    case "revoke":
      return run(parsed, (c) => c.call("POST", `/admin/v1/keys/${keyId()}/revoke`), lines);
    default:
      throw new CliError(`unknown command "keys ${parsed.sub}"\n\n${KEYS_HELP}`);
  }
}

export async function vault(argv: string[]): Promise<void> {
  const parsed = parse(argv, { tenant: { type: "string" }, batch: { type: "string" }, "min-version": { type: "string" } });
  const v = parsed.values;
  if (v.help || parsed.sub === undefined) return void console.log(VAULT_HELP);
  const base = () => `/admin/v1/tenants/${encodeURIComponent(required(v.tenant, "--tenant"))}/vault`;
  switch (parsed.sub) {
    case "status":
      if (v.tenant === undefined) {
        return run(
          parsed,
          (c) => c.call("GET", "/admin/v1/vault/keks"),
          (r: { current: string; keks: Row[] }) => [`current KEK: ${r.current}`, ...r.keks.map(lines)].join("\n\n"),
        );
      }
      return run(
        parsed,
        (c) => c.call("GET", base()),
        (r: { keys: Row[] }) => (r.keys.length === 0 ? "no keys yet" : r.keys.map(lines).join("\n\n")),
      );
    case "rotate":
      return run(parsed, (c) => c.call("POST", `${base()}/rotate`), lines);
    case "rewrap": {
      const batch = typeof v.batch === "string" ? intOption(v.batch, "--batch", 1, 10_000) : undefined;
      return run(parsed, (c) => c.call("POST", `${base()}/rewrap`, batch === undefined ? {} : { batch_size: batch }), lines);
    }
    case "rewrap-keks":
      return run(parsed, (c) => c.call("POST", "/admin/v1/vault/keks/rewrap"), lines);
    case "retire": {
      const minVersion = intOption(required(v["min-version"], "--min-version"), "--min-version", 1, 2_147_483_647);
      return run(parsed, (c) => c.call("POST", `${base()}/retire`, { min_version: minVersion }), lines);
    }
    default:
      throw new CliError(`unknown command "vault ${parsed.sub}"\n\n${VAULT_HELP}`);
  }
}

export async function sessions(argv: string[]): Promise<void> {
  const parsed = parse(argv, { tenant: { type: "string" }, subject: { type: "string" } });
  const v = parsed.values;
  if (v.help || parsed.sub === undefined) return void console.log(SESSIONS_HELP);
  const base = () => `/admin/v1/tenants/${encodeURIComponent(required(v.tenant, "--tenant"))}`;
  const subject = () => `/subjects/${encodeURIComponent(required(v.subject, "--subject"))}`;
  switch (parsed.sub) {
    case "list":
      return run(
        parsed,
        (c) => c.call("GET", `${base()}${v.subject === undefined ? "" : subject()}/sessions`),
        (r: { sessions: Row[] }) => (r.sessions.length === 0 ? "no live sessions" : r.sessions.map(lines).join("\n\n")),
      );
    case "revoke":
      return run(parsed, (c) => c.call("POST", `${base()}/sessions/${encodeURIComponent(required(parsed.id, "the session ID"))}/revoke`), lines);
    case "sign-out":
      return run(parsed, (c) => c.call("POST", `${base()}${subject()}/sessions/revoke`), (r: { revoked: string[] }) => `${r.revoked.length} session(s) ended`);
    default:
      throw new CliError(`unknown command "sessions ${parsed.sub}"\n\n${SESSIONS_HELP}`);
  }
}

export async function roles(argv: string[]): Promise<void> {
  const parsed = parse(argv, { tenant: { type: "string" }, user: { type: "string" }, key: { type: "string" }, roles: { type: "string" } });
  const v = parsed.values;
  if (v.help || parsed.sub === undefined) return void console.log(ROLES_HELP);
  if ((v.user === undefined) === (v.key === undefined)) throw new CliError("name exactly one of --user SUBJECT or --key KEY_ID");
  const path = `/admin/v1/tenants/${encodeURIComponent(required(v.tenant, "--tenant"))}/roles/${v.user === undefined ? `keys/${encodeURIComponent(required(v.key, "--key"))}` : `users/${encodeURIComponent(required(v.user, "--user"))}`}`;
  const show = (r: { roles: string[] }) => (r.roles.length === 0 ? "no roles" : r.roles.join("\n"));
  switch (parsed.sub) {
    case "get":
      return run(parsed, (c) => c.call("GET", path), show);
    case "set": {
      if (typeof v.roles !== "string") throw new CliError("--roles is required");
      return run(parsed, (c) => c.call("PUT", path, { roles: v.roles === "" ? [] : (v.roles as string).split(",") }), show);
    }
    default:
      throw new CliError(`unknown command "roles ${parsed.sub}"\n\n${ROLES_HELP}`);
  }
}

export const AUDIT_HELP = `Usage:
  portcullis audit list [--tenant ID] [--after CURSOR] [--limit N] [--action A] [--actor-id ID]
                                        (every tenant's records by tenant and seq, or one's)
  portcullis audit verify [--tenant ID] [--checkpoint-seq N --checkpoint-head HEX]
                                        (every tenant's chain through the admin API, or one's)
  portcullis audit export --tenant ID --out FILE
                                        (JSON lines with a signed checkpoint, no personal data)
  portcullis audit verify --file FILE --jwks URL|FILE
                                        (offline: no gateway, no database; exit 1 when broken)
${COMMON}`;

export async function audit(argv: string[]): Promise<void> {
  const parsed = parse(argv, {
    tenant: { type: "string" },
    after: { type: "string" },
    limit: { type: "string" },
    action: { type: "string" },
    "actor-id": { type: "string" },
    "checkpoint-seq": { type: "string" },
    "checkpoint-head": { type: "string" },
    file: { type: "string" },
    jwks: { type: "string" },
    out: { type: "string" },
  });
  const v = parsed.values;
  if (v.help || parsed.sub === undefined) return void console.log(AUDIT_HELP);
  const broken = (result: { ok: boolean }) => {
    if (!result.ok) process.exitCode = 1;
  };
  switch (parsed.sub) {
    case "list": {
      const query = new URLSearchParams();
      for (const [flag, name] of [["after", "after"], ["limit", "limit"], ["action", "action"], ["actor-id", "actor_id"]] as const) if (typeof v[flag] === "string") query.set(name, v[flag] as string);
      if (typeof v.tenant === "string") query.set("tenant", v.tenant);
      return run(parsed, (c) => c.call("GET", `/admin/v1/audit?${query}`), (r: { records: { tenant_id: string; seq: number; at: string; actor_type: string; actor_id: string; action: string; target_id: string | null }[]; next_after: string | null }) =>
        [...r.records.map((x) => `${x.tenant_id}:${x.seq}\t${x.at}\t${x.actor_type}:${x.actor_id}\t${x.action}\t${x.target_id ?? ""}`), ...(r.next_after === null ? [] : [`more: --after ${r.next_after}`])].join("\n"),
      );
    }
    case "verify": {
      if (typeof v.file === "string") {
        const { verifyExport } = await import("../audit/export.js");
        const keys = required(v.jwks, "--jwks");
        const jwks = /^https?:\/\//.test(keys) ? new URL(keys) : (JSON.parse(await readFile(keys, "utf8")) as JSONWebKeySet);
        const result = await verifyExport((await readFile(v.file, "utf8")).split("\n"), jwks);
        broken(result);
        console.log(v.json ? JSON.stringify(result, null, 2) : describeVerification(result));
        return;
      }
      const query = new URLSearchParams();
      if (typeof v.tenant === "string") query.set("tenant", v.tenant);
      if (typeof v["checkpoint-seq"] === "string") query.set("checkpoint_seq", v["checkpoint-seq"] as string);
      if (typeof v["checkpoint-head"] === "string") query.set("checkpoint_head", v["checkpoint-head"] as string);
      return run(
        parsed,
        async (c) => {
          const result = (await c.call("GET", `/admin/v1/audit/verify?${query}`)) as { ok: boolean };
          broken(result);
          return result;
        },
        (r: { tenants: Parameters<typeof describeVerification>[0][] }) => (r.tenants.length === 0 ? "no audit trails yet" : r.tenants.map(describeVerification).join("\n")),
      );
    }
    case "export": {
      const out = required(v.out, "--out");
      return run(
        parsed,
        async (c) => {
          const { lines } = (await c.call("GET", `/admin/v1/tenants/${encodeURIComponent(required(v.tenant, "--tenant"))}/audit/export`)) as { lines: string[] };
          await writeFile(out, `${lines.join("\n")}\n`, { mode: 0o600 });
          return { file: out, records: lines.length - 2 };
        },
        (r: { file: string; records: number }) => `${r.records} records and a signed checkpoint written to ${r.file}`,
      );
    }
    default:
      throw new CliError(`unknown command "audit ${parsed.sub}"\n\n${AUDIT_HELP}`);
  }
}

function describeVerification(r: { tenant_id: string; ok: boolean; records: number; firstBad?: { seq: number; reason: string } | undefined }): string {
  return r.ok ? `${r.tenant_id}: ok, ${r.records} records` : `${r.tenant_id}: BROKEN at record ${r.firstBad!.seq} (${r.firstBad!.reason}); ${r.records} records before it are good`;
}

export async function retention(argv: string[]): Promise<void> {
  const parsed = parse(argv, {});
  if (parsed.values.help || parsed.sub === undefined) return void console.log(RETENTION_HELP);
  if (parsed.sub !== "run") throw new CliError(`unknown command "retention ${parsed.sub}"\n\n${RETENTION_HELP}`);
  return run(parsed, (c) => c.call("POST", "/admin/v1/retention/run"), (r: { ran: boolean; report?: Row }) => (r.ran ? lines(r.report!) : "another node is sweeping now"));
}
