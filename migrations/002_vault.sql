-- The vault: per-tenant data keys (DEKs), stored only wrapped by a key-encryption key (KEK) from a
-- key provider, and secrets encrypted under them. Both tables are tenant-owned: forced RLS.

create table vault_deks (
  tenant_id     uuid not null references tenants (id) on delete cascade,
  version       integer not null check (version > 0),
  provider      text not null,
  kek_id        text not null,
  wrapped       bytea not null,
  encryptions   bigint not null default 0,
  created_at    timestamptz not null default now(),
  -- Destroying a DEK (shredding, retiring) empties `wrapped` and keeps the row as a tombstone, so
  -- a (tenant, version) pair names one key for all time and versions never repeat.
  destroyed_at  timestamptz,
  primary key (tenant_id, version),
  check ((destroyed_at is null) = (length(wrapped) > 0))
);

-- Secrets whose DEK was destroyed stay behind as unreadable ciphertext until deleted.
create table vault_secrets (
  tenant_id     uuid not null references tenants (id) on delete cascade,
  name          text not null check (name ~ '^[A-Za-z0-9._/-]{1,200}$'),
  purpose       text not null check (purpose ~ '^[a-z0-9_.-]{1,50}$'),
  dek_version   integer not null,
  envelope      bytea not null,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now(),
  primary key (tenant_id, name)
);
-- Rewrap walks the secrets below the newest key version in this order, a batch at a time.
create index vault_secrets_by_key_version on vault_secrets (tenant_id, dek_version, name);

select portcullis_isolate_tenant('vault_deks', 'tenant_id');
select portcullis_isolate_tenant('vault_secrets', 'tenant_id');

grant select, insert, update on vault_deks to portcullis_app;
grant select, insert, update, delete on vault_secrets to portcullis_app;
