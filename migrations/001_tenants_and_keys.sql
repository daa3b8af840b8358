-- Tenants and API keys. Every tenant-owned table is under forced row-level security keyed by
-- app.current_org, read through nullif(..., '') so that an unset tenant matches no row at all.

create table tenants (
  id          uuid primary key,
  name        text not null check (length(name) between 1 and 200),
  status      text not null default 'active' check (status in ('active', 'suspended')),
  created_at  timestamptz not null default now()
);

create table api_keys (
  id            uuid primary key,
  tenant_id     uuid not null references tenants (id) on delete cascade,
  env           text not null check (env in ('live', 'test')),
  prefix        text not null,
  key_hash      bytea not null unique,
  scopes        text[] not null default '{}',
  created_at    timestamptz not null default now(),
  expires_at    timestamptz,
  revoked_at    timestamptz,
  last_used_at  timestamptz,
  rotated_to    uuid references api_keys (id)
);
create index api_keys_tenant on api_keys (tenant_id);

-- The one definition of tenant isolation, applied to every tenant-owned table by the migrations:
-- RLS enabled and forced (the owner too is bound), one policy for reads and writes.
create function portcullis_isolate_tenant(p_table regclass, p_column name)
returns void
language plpgsql
as $$
begin
  execute format('alter table %s enable row level security', p_table);
  execute format('alter table %s force row level security', p_table);
  execute format(
    'create policy tenant_isolation on %s
       using (%I = nullif(current_setting(''app.current_org'', true), '''')::uuid)
       with check (%I = nullif(current_setting(''app.current_org'', true), '''')::uuid)',
    p_table, p_column, p_column);
end $$;
revoke all on function portcullis_isolate_tenant(regclass, name) from public;

select portcullis_isolate_tenant('tenants', 'id');
select portcullis_isolate_tenant('api_keys', 'tenant_id');

grant select, insert, update on tenants to portcullis_app;
grant select, insert, update on api_keys to portcullis_app;

-- Authenticating a key happens before the tenant is known, so it cannot run under a tenant's RLS
-- scope. This narrow definer function is the only way around it: it answers for one exact key
-- hash and returns nothing a caller without the key could not already learn.
create function portcullis_authenticate_key(p_key_hash bytea)
returns table (
  key_id uuid, tenant_id uuid, env text, scopes text[], expires_at timestamptz,
  revoked_at timestamptz, tenant_status text
)
language sql stable security definer set search_path = pg_catalog, public
as $$
  select k.id, k.tenant_id, k.env, k.scopes, k.expires_at, k.revoked_at, t.status
  from public.api_keys k join public.tenants t on t.id = k.tenant_id
  where k.key_hash = p_key_hash
$$;

-- Admin operations address a key by its id alone; this tells which tenant scope to enter.
create function portcullis_key_tenant(p_key_id uuid)
returns uuid
language sql stable security definer set search_path = pg_catalog, public
as $$ select tenant_id from public.api_keys where id = p_key_id $$;

revoke all on function portcullis_authenticate_key(bytea) from public;
revoke all on function portcullis_key_tenant(uuid) from public;
grant execute on function portcullis_authenticate_key(bytea) to portcullis_app;
grant execute on function portcullis_key_tenant(uuid) to portcullis_app;
