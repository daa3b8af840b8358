-- KEK rotation walks every tenant, but DEK rows stay behind RLS. These definer functions tell only
-- which tenants still have keys wrapped by another KEK, and how many live keys each KEK wraps:
-- nothing a row holds, so the rewrap itself still runs inside each tenant's own scope.

create function portcullis_vault_tenants_off_kek(p_current_kek text)
returns setof uuid
language sql stable security definer set search_path = pg_catalog, public
as $$
  select distinct tenant_id from public.vault_deks where destroyed_at is null and kek_id <> p_current_kek
$$;

create function portcullis_vault_kek_usage()
returns table (provider text, kek_id text, keys bigint)
language sql stable security definer set search_path = pg_catalog, public
as $$
  select provider, kek_id, count(*) from public.vault_deks where destroyed_at is null group by provider, kek_id order by provider, kek_id
$$;

revoke all on function portcullis_vault_tenants_off_kek(text) from public;
revoke all on function portcullis_vault_kek_usage() from public;
grant execute on function portcullis_vault_tenants_off_kek(text) to portcullis_app;
grant execute on function portcullis_vault_kek_usage() to portcullis_app;
