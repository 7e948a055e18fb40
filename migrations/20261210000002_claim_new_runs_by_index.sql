-- claim_new_runs looks a batch's ids up with one `= any` probe of each partition's unique index.
-- No index says that `id` alone is unique any more, so without column statistics (a partition just
-- created, or filled faster than autovacuum analyses it) the planner guessed that a tenth of the
-- rows matched and scanned them all, for every batch. The lookup is therefore planned for each call
-- and kept off sequential scans: it is always a handful of ids.
create or replace function claim_new_runs(ids text[]) returns setof text language plpgsql volatile
set plan_cache_mode = force_custom_plan set enable_seqscan = off as $$
begin
    perform pg_advisory_xact_lock(1, k) from (select distinct hashtext(i) as k from unnest(ids) i) l order by k;
    return query select i from unnest(ids) i
        where not (i = any(array(select r.id from pipeline_runs r where r.id = any(ids))));
end
$$;
