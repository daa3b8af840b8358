-- A personal row (actor name, ip, user agent) is written with its record, in the same statement,
-- or not at all: the app role may INSERT into audit_personal (the append writes both at once), and
-- without this it could attach a name or an address to a record that had none. Both rows of one
-- append carry the same transaction id; a row added later carries another. Its fields are never
-- written erased either: only portcullis_audit_anonymise erases, by UPDATE. `audit verify`
-- recomputes each commitment too, which also catches rows changed by a role above these rules.
create function portcullis_audit_personal_with_record() returns trigger
language plpgsql as $$
begin
  if new.anonymised_at is not null or not exists (
    select 1 from public.audit_records r join public.audit_personal p on p.tenant_id = r.tenant_id and p.seq = r.seq
    where r.tenant_id = new.tenant_id and r.seq = new.seq and r.xmin = p.xmin
  ) then
    raise exception 'audit personal fields are written with their record only' using errcode = 'insufficient_privilege';
  end if;
  return null;
end $$;
create trigger audit_personal_with_record after insert on audit_personal
  for each row execute function portcullis_audit_personal_with_record();
