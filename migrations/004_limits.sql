-- Per-tenant overrides of the policy's rate limits, by limit name, and per-tenant address lists.
-- Both are tenant-owned: forced RLS like every other tenant table.

create table rate_limit_overrides (
  tenant_id       uuid not null references tenants (id) on delete cascade,
  limit_name      text not null check (limit_name ~ '^[A-Za-z0-9._-]{1,64}$'),
  rate            integer not null check (rate between 1 and 1000000),
  period_seconds  integer not null check (period_seconds between 1 and 2678400),
  burst           integer check (burst between 1 and 1000000),
  updated_at      timestamptz not null default now(),
  primary key (tenant_id, limit_name)
);

create table tenant_ip_rules (
  tenant_id   uuid not null references tenants (id) on delete cascade,
  action      text not null check (action in ('allow', 'deny')),
  cidr        text not null check (length(cidr) <= 64),
  primary key (tenant_id, action, cidr)
);

select portcullis_isolate_tenant('rate_limit_overrides', 'tenant_id');
select portcullis_isolate_tenant('tenant_ip_rules', 'tenant_id');

grant select, insert, update, delete on rate_limit_overrides to portcullis_app;
grant select, insert, delete on tenant_ip_rules to portcullis_app;
