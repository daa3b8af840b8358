-- Retention and tenant deletion. A deleted tenant's row stays as a tombstone (name erased) because
-- its audit trail stays, anonymised and verifiable; everything else the tenant owned is removed.

alter table tenants drop constraint tenants_status_check;
alter table tenants add constraint tenants_status_check check (status in ('active', 'suspended', 'deleting', 'deleted', 'system'));
-- Deletion is a sequence of steps, each recorded once done, so a crash resumes at the next one.
alter table tenants add column deletion_step text check (deletion_step in ('requested', 'revoked', 'shredded', 'anonymised', 'purged'));
alter table tenants add column deletion_requested_at timestamptz;
alter table tenants add column purge_after timestamptz;

-- The chain for what belongs to no tenant: blocks of client addresses, the retention sweep's runs.
insert into tenants (id, name, status) values ('00000000-0000-0000-0000-000000000000', 'portcullis', 'system');

-- Sessions that ended long ago are removed by the retention sweep.
grant delete on sessions to portcullis_app;

-- When each cluster-wide job last ran: the sweep runs on one node at a time (an advisory lock)
-- and, across nodes, once per interval.
create table portcullis_jobs (
  name         text primary key,
  last_run_at  timestamptz not null
);
grant select, insert, update on portcullis_jobs to portcullis_app;

-- Every tenant but the system one, for the sweep and for resuming deletions; names nothing else.
create function portcullis_tenant_states()
returns table (tenant_id uuid, status text, deletion_step text, purge_due boolean)
language sql stable security definer set search_path = pg_catalog, public
as $$
  select t.id, t.status, t.deletion_step, coalesce(t.purge_after <= now(), false)
  from public.tenants t where t.status <> 'system' order by t.id
$$;
revoke all on function portcullis_tenant_states() from public;
grant execute on function portcullis_tenant_states() to portcullis_app;

-- Personal fields of a tenant's records older than p_before erased (retention; deletion erases
-- all). The chain covers them only through their commitments, so it stays verifiable.
create function portcullis_audit_anonymise_before(p_tenant uuid, p_before timestamptz)
returns integer
language plpgsql volatile security definer set search_path = pg_catalog, public
as $$
declare
  n integer;
begin
  perform set_config('portcullis.audit_anonymise', 'on', true);
  update public.audit_personal p set actor_name = null, ip = null, user_agent = null, anonymised_at = now()
  from public.audit_records r
  where r.tenant_id = p_tenant and r.at < p_before
    and p.tenant_id = r.tenant_id and p.seq = r.seq and p.anonymised_at is null;
  get diagnostics n = row_count;
  perform set_config('portcullis.audit_anonymise', 'off', true);
  return n;
end $$;
revoke all on function portcullis_audit_anonymise_before(uuid, timestamptz) from public;
grant execute on function portcullis_audit_anonymise_before(uuid, timestamptz) to portcullis_app;

-- The last step of a deletion, once its grace period is over and only then (checked here, under
-- the row's lock, so a restore racing it wins or loses whole): every row the tenant owned goes,
-- but the tombstone and the audit trail. Tables are named one by one so that a new tenant table
-- is a decision (a test fails until it is listed here).
create function portcullis_purge_tenant(p_tenant uuid)
returns boolean
language plpgsql volatile security definer set search_path = pg_catalog, public
as $$
begin
  perform 1 from public.tenants where id = p_tenant and status = 'deleting' and deletion_step = 'anonymised' and purge_after <= now() for update;
  if not found then
    return false;
  end if;
  delete from public.webhook_endpoints where tenant_id = p_tenant;
  delete from public.webhook_deliveries where tenant_id = p_tenant;
  delete from public.webhook_attempts where tenant_id = p_tenant;
  delete from public.oauth_states where tenant_id = p_tenant;
  delete from public.oauth_connections where tenant_id = p_tenant;
  delete from public.role_assignments where tenant_id = p_tenant;
  delete from public.sessions where tenant_id = p_tenant;
  delete from public.idempotency_records where tenant_id = p_tenant;
  delete from public.tenant_ip_rules where tenant_id = p_tenant;
  delete from public.rate_limit_overrides where tenant_id = p_tenant;
  delete from public.vault_secrets where tenant_id = p_tenant;
  delete from public.vault_deks where tenant_id = p_tenant;
  update public.api_keys set rotated_to = null where tenant_id = p_tenant;
  delete from public.api_keys where tenant_id = p_tenant;
  update public.tenants set name = 'deleted tenant', status = 'deleted', deletion_step = 'purged' where id = p_tenant;
  return true;
end $$;
revoke all on function portcullis_purge_tenant(uuid) from public;
grant execute on function portcullis_purge_tenant(uuid) to portcullis_app;
