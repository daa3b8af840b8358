-- Role assignments per tenant: which roles a user (a token's subject) or an API key holds. The
-- policy maps roles to permissions; the gateway reads assignments at request time, so a demotion
-- applies whatever a still-valid token claims.

create table role_assignments (
  tenant_id     uuid not null references tenants (id) on delete cascade,
  subject_kind  text not null check (subject_kind in ('user', 'key')),
  subject       text not null check (length(subject) between 1 and 256),
  role          text not null check (role ~ '^[A-Za-z0-9:._-]{1,64}$'),
  assigned_at   timestamptz not null default now(),
  primary key (tenant_id, subject_kind, subject, role)
);

select portcullis_isolate_tenant('role_assignments', 'tenant_id');
grant select, insert, delete on role_assignments to portcullis_app;
