-- OAuth connections: a tenant's links to third-party accounts. Tokens are kept in the vault
-- (name connections/{id}/tokens); rows hold what is not secret. A pending authorization is a
-- state row, deleted when its callback arrives, so each state is used once.

create table oauth_states (
  tenant_id    uuid not null references tenants (id) on delete cascade,
  id           text not null check (length(id) between 20 and 64),
  provider     text not null,
  subject      text not null,
  code_verifier text not null,
  return_url   text not null,
  expires_at   timestamptz not null,
  primary key (tenant_id, id)
);
create index oauth_states_expiry on oauth_states (expires_at);

create table oauth_connections (
  tenant_id     uuid not null references tenants (id) on delete cascade,
  id            uuid not null,
  provider      text not null,
  -- Who connected it (the caller's subject), and the account at the provider when it says (OIDC sub).
  subject       text not null,
  account       text,
  scopes        text[] not null default '{}',
  expires_at    timestamptz,
  -- One refresh at a time across nodes: a node holds this lease while it refreshes.
  refresh_lease_until timestamptz,
  created_at    timestamptz not null default now(),
  refreshed_at  timestamptz,
  primary key (tenant_id, id)
);

select portcullis_isolate_tenant('oauth_states', 'tenant_id');
select portcullis_isolate_tenant('oauth_connections', 'tenant_id');
grant select, insert, update, delete on oauth_states, oauth_connections to portcullis_app;
