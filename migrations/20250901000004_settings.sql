-- Runtime policy that operators change without a redeploy (retention and similar).
create table settings (
    key        text primary key,
    value      jsonb       not null,
    updated_at timestamptz not null default now()
);

insert into settings (key, value) values ('retention_days', '90');
