import { request } from "undici";
import type { CounterStore } from "../counters/counter-store.js";
import type { Logger } from "../observability/logger.js";
import type { Redactor } from "../redact/redactor.js";

export type Severity = "info" | "warning" | "high" | "critical";

export type SecurityEventType = "client_blocked" | "client_unblocked" | "rate_limited" | "store_unavailable" | "quota_threshold" | "quota_exhausted" | "jwks_key_refused" | "refresh_token_reuse" | "webhook_signature_invalid" | "egress_refused" | "upstream_circuit_open" | "upstream_circuit_closed" | "proxy_auth_failed" | "oauth_state_rejected" | "vault_reserved_access";

export interface SecurityEvent {
  type: SecurityEventType;
  severity: Severity;
  at: string;
  /** The client address, when the event is about one. */
  client?: string | undefined;
  tenant_id?: string | undefined;
  route?: string | undefined;
  /** Names, counts and codes only: an event never carries a credential or a request body. */
  detail?: Readonly<Record<string, string | number | boolean>> | undefined;
}

export interface SecurityEventsOptions {
  store: CounterStore;
  logger: Logger;
  /** Each event is also POSTed here as JSON. */
  alertWebhook?: string | undefined;
  /** The logs' redaction (the log line is redacted on its way out anyway): what is stored and alerted matches what is logged. */
  redactor?: Redactor | undefined;
  now?: () => number;
}

const MAX_ALERTS_IN_FLIGHT = 64;

/**
 * Security events: each one is a log line at once, kept in the counter store (so the admin API
 * shows every node's), and optionally posted to an alert webhook. Emitting never waits and never
 * fails the request that caused it: a store or webhook outage is itself logged.
 */
export class SecurityEvents {
  private alertsInFlight = 0;
  private readonly now: () => number;

  constructor(private readonly options: SecurityEventsOptions) {
    this.now = options.now ?? Date.now;
  }

  emit(event: Omit<SecurityEvent, "at">): void {
    const at = new Date(this.now()).toISOString();
    const full: SecurityEvent = this.options.redactor === undefined ? { ...event, at } : { ...this.options.redactor.value(event), at };
    const level = event.severity === "info" ? "info" : event.severity === "warning" ? "warn" : "error";
    this.options.logger[level]({ security_event: full }, `security event: ${event.type}`);
    const line = JSON.stringify(full);
    this.options.store.recordEvent(line).catch(() => this.options.logger.warn({ event_type: event.type }, "security event not stored: counter store unavailable"));
    if (this.options.alertWebhook !== undefined) this.alert(this.options.alertWebhook, line);
  }

  async recent(limit = 100): Promise<SecurityEvent[]> {
    return (await this.options.store.recentEvents(limit)).map((line) => JSON.parse(line) as SecurityEvent);
  }

  /** Bounded: when the webhook is slow, alerts beyond the limit are dropped (and logged), never queued without end. */
  private alert(url: string, body: string): void {
    if (this.alertsInFlight >= MAX_ALERTS_IN_FLIGHT) {
      this.options.logger.warn("security alert dropped: too many in flight to the alert webhook");
      return;
    }
    this.alertsInFlight++;
    request(url, { method: "POST", body, headers: { "content-type": "application/json" }, headersTimeout: 2_000, bodyTimeout: 2_000 })
      .then(async (response) => {
        await response.body.dump();
        if (response.statusCode >= 300) this.options.logger.warn({ status: response.statusCode }, "security alert refused by the alert webhook");
      })
      .catch(() => this.options.logger.warn("security alert not delivered: alert webhook unreachable"))
      .finally(() => this.alertsInFlight--);
  }
}

/**
 * Reports the shared counter store down: at most one event per 10 s from one control, however
 * many requests meet the outage, since an outage is one story, not thousands.
 */
export class OutageReporter {
  private lastReportedAt = 0;

  constructor(
    private readonly events: SecurityEvents,
    private readonly store: string,
    private readonly now: () => number = Date.now,
  ) {}

  report(detail: Readonly<Record<string, string | number | boolean>>, route?: string): void {
    const now = this.now();
    if (now - this.lastReportedAt < 10_000) return;
    this.lastReportedAt = now;
    this.events.emit({ type: "store_unavailable", severity: "high", route, detail: { store: this.store, ...detail } });
  }
}
