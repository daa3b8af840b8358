-- Outbound webhooks: a tenant's endpoints, the deliveries queued for them, and every attempt.
-- Signing secrets are kept in the vault, each under a name of its own that no rotation reuses
-- (webhooks/endpoints/{id}/{random}); rows name them only.
-- Deliveries are a durable queue: a node claims a batch (FOR UPDATE SKIP LOCKED, so nodes share
-- the work without waiting on each other) under a lease; a node that dies mid-delivery leaves
-- its lease to run out, and another node delivers again. Delivery is therefore at least once,
-- as Standard Webhooks expects receivers to handle, deduplicating on webhook-id.

create table webhook_endpoints (
  tenant_id        uuid not null references tenants (id) on delete cascade,
  id               uuid not null,
  url              text not null check (length(url) <= 2048),
  event_types      text[],
  state            text not null default 'enabled' check (state in ('enabled', 'disabled')),
  disabled_reason  text,
  secret_name      text not null,
  secret_version   integer not null default 1,
  -- During a rotation the previous secret signs too, until previous_until.
  previous_secret_name text,
  previous_until   timestamptz,
  created_at       timestamptz not null default now(),
  primary key (tenant_id, id)
);

create table webhook_deliveries (
  tenant_id        uuid not null references tenants (id) on delete cascade,
  id               uuid not null,
  endpoint_id      uuid not null,
  message_id       text not null,
  event_type       text not null,
  payload          bytea not null,
  state            text not null default 'pending' check (state in ('pending', 'delivered', 'failed')),
  attempts         integer not null default 0,
  next_attempt_at  timestamptz not null default now(),
  lease_until      timestamptz,
  created_at       timestamptz not null default now(),
  finished_at      timestamptz,
  primary key (tenant_id, id),
  foreign key (tenant_id, endpoint_id) references webhook_endpoints (tenant_id, id) on delete cascade,
  unique (tenant_id, endpoint_id, message_id)
);
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where state = 'pending';

create table webhook_attempts (
  tenant_id        uuid not null references tenants (id) on delete cascade,
  delivery_id      uuid not null,
  attempt          integer not null,
  at               timestamptz not null default now(),
  -- The receiver's status, or null when there was no answer (then error names why, as a code).
  status           integer,
  error            text,
  duration_ms      integer not null,
  primary key (tenant_id, delivery_id, attempt),
  foreign key (tenant_id, delivery_id) references webhook_deliveries (tenant_id, id) on delete cascade
);

select portcullis_isolate_tenant('webhook_endpoints', 'tenant_id');
select portcullis_isolate_tenant('webhook_deliveries', 'tenant_id');
select portcullis_isolate_tenant('webhook_attempts', 'tenant_id');
grant select, insert, update, delete on webhook_endpoints, webhook_deliveries, webhook_attempts to portcullis_app;

-- The delivery workers serve every tenant, which RLS would confine to one: this definer function
-- only claims due deliveries (a bounded batch, under a lease) and returns what a worker needs to
-- send each one, its endpoint included, so that a delivery costs no second read.
create function portcullis_claim_webhook_deliveries(p_batch integer, p_lease_seconds integer)
returns table (tenant_id uuid, id uuid, attempts integer, message_id text, payload bytea,
               endpoint_id uuid, url text, endpoint_state text, secret_name text, previous_secret_name text, previous_until timestamptz)
language sql volatile security definer set search_path = pg_catalog, public
as $$
  with due as (
    select d.tenant_id, d.id from public.webhook_deliveries d
    where d.state = 'pending' and d.next_attempt_at <= now() and (d.lease_until is null or d.lease_until < now())
    order by d.next_attempt_at
    limit p_batch
    for update skip locked
  ), claimed as (
    update public.webhook_deliveries d
    set lease_until = now() + make_interval(secs => p_lease_seconds), attempts = d.attempts + 1
    from due where d.tenant_id = due.tenant_id and d.id = due.id
    returning d.tenant_id, d.id, d.attempts, d.message_id, d.payload, d.endpoint_id
  )
  select c.tenant_id, c.id, c.attempts, c.message_id, c.payload, c.endpoint_id, e.url, e.state, e.secret_name, e.previous_secret_name, e.previous_until
  from claimed c join public.webhook_endpoints e on e.tenant_id = c.tenant_id and e.id = c.endpoint_id
$$;
revoke all on function portcullis_claim_webhook_deliveries(integer, integer) from public;
grant execute on function portcullis_claim_webhook_deliveries(integer, integer) to portcullis_app;
