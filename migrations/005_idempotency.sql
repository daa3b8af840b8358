-- Idempotency keys: one row per (tenant, scope) where the scope hashes principal, method, route
-- and key, so that one caller's key can never name another's record. A row is a claim while the
-- first request is in flight (a lease, renewed by the node serving it) and the stored first
-- answer once it is done, replayed until expires_at.

create table idempotency_records (
  tenant_id      uuid not null references tenants (id) on delete cascade,
  scope_hash     bytea not null check (length(scope_hash) = 32),
  fingerprint    bytea not null check (length(fingerprint) = 32),
  state          text not null check (state in ('in_flight', 'done')),
  lease_token    uuid,
  lease_until    timestamptz,
  status         integer check (status between 100 and 599),
  headers        jsonb,
  body           bytea,
  body_complete  boolean,
  created_at     timestamptz not null default now(),
  expires_at     timestamptz not null,
  primary key (tenant_id, scope_hash),
  check ((state = 'in_flight') = (lease_token is not null and lease_until is not null)),
  check ((state = 'done') = (status is not null))
);
create index idempotency_records_expiry on idempotency_records (expires_at);

select portcullis_isolate_tenant('idempotency_records', 'tenant_id');
grant select, insert, update, delete on idempotency_records to portcullis_app;

-- The sweep removes expired records of every tenant, which RLS would confine to one: this
-- definer function deletes only rows past their expiry, a bounded batch at a time.
create function portcullis_sweep_idempotency(p_batch integer)
returns integer
language sql volatile security definer set search_path = pg_catalog, public
as $$
  with due as (
    select tenant_id, scope_hash from public.idempotency_records
    where expires_at <= now() order by expires_at limit p_batch
  ), gone as (
    delete from public.idempotency_records r using due
    where r.tenant_id = due.tenant_id and r.scope_hash = due.scope_hash and r.expires_at <= now()
    returning 1
  )
  select count(*)::integer from gone
$$;
revoke all on function portcullis_sweep_idempotency(integer) from public;
grant execute on function portcullis_sweep_idempotency(integer) to portcullis_app;
