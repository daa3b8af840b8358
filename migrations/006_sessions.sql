-- Gateway-issued sessions: one row per refresh-token family. Tokens are never stored: a refresh
-- token names (tenant, session, generation) under the gateway's MAC, and the row keeps the current
-- generation, so a token of an older one is known to be spent.

create table sessions (
  id                   uuid primary key,
  tenant_id            uuid not null references tenants (id) on delete cascade,
  subject              text not null check (length(subject) between 1 and 256),
  client_id            text check (length(client_id) between 1 and 256),
  roles                text[] not null default '{}',
  scopes               text[] not null default '{}',
  acr                  text check (length(acr) between 1 and 200),
  amr                  text[] not null default '{}',
  auth_time            timestamptz not null,
  generation           integer not null default 0 check (generation >= 0),
  rotated_at           timestamptz not null,
  created_at           timestamptz not null default now(),
  idle_expires_at      timestamptz not null,
  absolute_expires_at  timestamptz not null,
  revoked_at           timestamptz,
  revoked_reason       text check (revoked_reason in ('reuse', 'revoked', 'signed_out', 'admin'))
);
create index sessions_subject on sessions (tenant_id, subject);

select portcullis_isolate_tenant('sessions', 'tenant_id');
grant select, insert, update on sessions to portcullis_app;
