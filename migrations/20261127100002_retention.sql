-- Retention: runs (with their jobs and raw payloads) are deleted after `retention_days`, the hourly
-- rollups behind the dashboard's counters after `rollup_retention_days` (kept longer, so that
-- year-over-year charts survive the runs they count). The deletion job (backend/src/retention.rs)
-- removes old runs by `run_at` through idx_runs_run_at, and old rollups by bucket through the
-- index below, in small batches.
insert into settings (key, value) values ('rollup_retention_days', '400') on conflict (key) do nothing;

-- Rollup rows are found by age only for retention. The bucket never changes once a row exists, so
-- this index does not stop the counters' updates from being heap-only (HOT).
create index idx_rollups_bucket on run_rollups (bucket);
