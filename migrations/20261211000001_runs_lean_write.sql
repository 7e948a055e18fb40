-- The write path pays for every index of `pipeline_runs` on every new run. Two of them serve no
-- query any more: runs are listed, filtered and charted by `run_at` since it was added, and jobs
-- are found by their own table. Dropping them removes a fifth of the index entries a run writes.
-- The names are those of the original table and, once partitioned, of the partitioned table.
drop index if exists idx_runs_started_at;
drop index if exists idx_runs_repo_workflow_started;
drop index if exists pipeline_runs_started_at_idx;
drop index if exists pipeline_runs_repo_workflow_started_at_idx;

-- claim_new_runs was planned for every call (a tenth of its time in PostgreSQL during single-event
-- ingest), because a generic plan of its lookup is chosen from the statistics of the moment: a
-- hash (or merge) join over a whole index, cheap while a partition is empty and cached while it
-- grows. The lookup is now a correlated subquery that stops at its first match: one probe of each
-- partition's unique index per id, the only plan there is for it, so PL/pgSQL's cached plan is kept
-- (adding a partition invalidates it).
create or replace function claim_new_runs(ids text[]) returns setof text language plpgsql volatile
set plan_cache_mode = force_generic_plan set enable_seqscan = off as $$
begin
    perform pg_advisory_xact_lock(1, k) from (select distinct hashtext(i) as k from unnest(ids) i) l order by k;
    return query select u.i from unnest(ids) u(i)
        where (select true from pipeline_runs r where r.id = u.i limit 1) is null;
end
$$;
