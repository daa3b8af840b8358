import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CliError } from "./errors.js";

/**
 * The CLI's way to the gateway's state: always through the admin API, never by opening the data
 * directory (embedded PGlite admits one process only, and the gateway is that process).
 */
export class AdminClient {
  private constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  static async fromEnvironment(dataDir: string): Promise<AdminClient> {
    const baseUrl = (process.env.PORTCULLIS_ADMIN_URL || "http://127.0.0.1:8081").replace(/\/$/, "");
    let token = process.env.PORTCULLIS_ADMIN_TOKEN;
    if (!token) {
      try {
        token = (await readFile(join(dataDir, "admin-token"), "utf8")).trim();
      } catch {
        throw new CliError(`no admin token: set PORTCULLIS_ADMIN_TOKEN (or run where ${join(dataDir, "admin-token")} exists)`);
      }
    }
    return new AdminClient(baseUrl, token);
  }

  async call(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch {
      throw new CliError(`cannot reach the admin API at ${this.baseUrl} (set PORTCULLIS_ADMIN_URL)`, 1);
    }
    const payload = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) {
      const details = Array.isArray(payload.errors)
        ? (payload.errors as { path: string; message: string }[]).map((e) => `\n  - ${e.path || "(body)"}: ${e.message}`).join("")
        : "";
      throw new CliError(`${String(payload.code ?? response.status)}: ${String(payload.detail ?? payload.title ?? "request failed")}${details}`, 1);
    }
    return payload;
  }
}
