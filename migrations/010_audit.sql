-- The audit trail: one hash chain per tenant. audit_records is append-only for every role: the
-- app role is granted INSERT and SELECT only, and triggers refuse UPDATE, DELETE and TRUNCATE for
-- everyone, the owner included. Personal fields (actor name, ip, user agent) live in
-- audit_personal, which the chain covers only through a salted commitment; anonymising a person
-- there leaves every hash of the chain as it was.

create table audit_heads (
  tenant_id  uuid primary key references tenants (id) on delete restrict,
  seq        bigint not null,
  head       bytea not null check (length(head) = 32)
);

create table audit_records (
  tenant_id    uuid not null references tenants (id) on delete restrict,
  seq          bigint not null check (seq >= 1),
  at           timestamptz not null,
  actor_type   text not null check (actor_type in ('user', 'key', 'rule', 'system', 'admin')),
  actor_id     text not null,
  action       text not null,
  target_type  text,
  target_id    text,
  outcome      text not null,
  request_id   text,
  diff         jsonb,
  -- SHA-256 of the salt and the personal fields' canonical form; the salt makes a guessable value unguessable.
  personal_commitment bytea not null check (length(personal_commitment) = 32),
  hash         bytea not null check (length(hash) = 32),
  primary key (tenant_id, seq)
);

create table audit_personal (
  tenant_id   uuid not null,
  seq         bigint not null,
  salt        bytea not null check (length(salt) = 16),
  actor_name  text,
  ip          text,
  user_agent  text,
  anonymised_at timestamptz,
  primary key (tenant_id, seq),
  foreign key (tenant_id, seq) references audit_records (tenant_id, seq)
);

select portcullis_isolate_tenant('audit_heads', 'tenant_id');
select portcullis_isolate_tenant('audit_records', 'tenant_id');
select portcullis_isolate_tenant('audit_personal', 'tenant_id');
grant select, insert, update on audit_heads to portcullis_app;
grant select, insert on audit_records, audit_personal to portcullis_app;

create function portcullis_audit_refuse() returns trigger
language plpgsql as $$
begin
  raise exception 'audit records are append-only: % refused', tg_op using errcode = 'insufficient_privilege';
end $$;
create trigger audit_records_append_only before update or delete on audit_records
  for each row execute function portcullis_audit_refuse();
create trigger audit_records_no_truncate before truncate on audit_records
  for each statement execute function portcullis_audit_refuse();
-- Personal fields can be erased, never rewritten into something else, and only by the narrow path below.
create function portcullis_audit_personal_guard() returns trigger
language plpgsql as $$
begin
  if tg_op = 'UPDATE' and current_setting('portcullis.audit_anonymise', true) = 'on'
     and new.tenant_id = old.tenant_id and new.seq = old.seq and new.salt = old.salt
     and new.actor_name is null and new.ip is null and new.user_agent is null then
    return new;
  end if;
  raise exception 'audit personal fields can only be anonymised: % refused', tg_op using errcode = 'insufficient_privilege';
end $$;
create trigger audit_personal_guard before update or delete on audit_personal
  for each row execute function portcullis_audit_personal_guard();
create trigger audit_personal_no_truncate before truncate on audit_personal
  for each statement execute function portcullis_audit_refuse();

-- Anonymising an actor (account deletion): their name, address and user agent are erased from
-- every record of the tenant that names them; the records, and the chain, stay.
create function portcullis_audit_anonymise(p_tenant uuid, p_actor_type text, p_actor_id text)
returns integer
language plpgsql volatile security definer set search_path = pg_catalog, public
as $$
declare
  n integer;
begin
  perform set_config('portcullis.audit_anonymise', 'on', true);
  update public.audit_personal p set actor_name = null, ip = null, user_agent = null, anonymised_at = now()
  from public.audit_records r
  where r.tenant_id = p_tenant and r.actor_type = p_actor_type and r.actor_id = p_actor_id
    and p.tenant_id = r.tenant_id and p.seq = r.seq and p.anonymised_at is null;
  get diagnostics n = row_count;
  perform set_config('portcullis.audit_anonymise', 'off', true);
  return n;
end $$;
revoke all on function portcullis_audit_anonymise(uuid, text, text) from public;
grant execute on function portcullis_audit_anonymise(uuid, text, text) to portcullis_app;

-- Which tenants have a trail, for verifying every chain at once (the admin's `audit verify`);
-- RLS would confine the app to one tenant, and this names tenants only.
create function portcullis_audit_tenants()
returns table (tenant_id uuid)
language sql stable security definer set search_path = pg_catalog, public
as $$ select h.tenant_id from public.audit_heads h order by h.tenant_id $$;
revoke all on function portcullis_audit_tenants() from public;
grant execute on function portcullis_audit_tenants() to portcullis_app;
