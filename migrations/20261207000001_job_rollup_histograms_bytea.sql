-- Job rollup histograms as bytes: the same sparse pairs, [bucket, count, bucket, count, …], each
-- a big-endian int4, in a bytea instead of an int4[].
--
-- Why: the views read tens of thousands of rows, and PostgreSQL sends an array element by
-- element (a function call and a length word each), which cost more than the rest of the query.
-- A bytea is sent as it is stored, and rows can be added up in SQL by concatenating their
-- histograms (see backend/src/db/job_rollups.rs).
create function pg_temp.hist_bytes(h int4[]) returns bytea language sql immutable as $$
    select coalesce(string_agg(int4send(x), ''::bytea order by o), ''::bytea)
    from unnest(h) with ordinality as u(x, o)
$$;

alter table job_rollups
    alter column duration_hist drop default,
    alter column queue_hist drop default,
    alter column duration_hist type bytea using pg_temp.hist_bytes(duration_hist),
    alter column queue_hist type bytea using pg_temp.hist_bytes(queue_hist),
    alter column duration_hist set default ''::bytea,
    alter column queue_hist set default ''::bytea;
