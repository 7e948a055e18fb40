-- A deployment's sorted lead times, packed as big-endian float8 (`float8send`, 8 bytes each):
-- the DORA keys read them for tens of thousands of deployments at once, as bytes rather than as
-- an array decoded element by element (backend/src/delivery/dora.rs, `Leads`).
alter table deployments add column leads bytea;
update deployments set leads = (select string_agg(float8send(l), ''::bytea order by l) from unnest(lead_seconds) l)
where lead_seconds is not null;
alter table deployments drop column lead_seconds;
