-- A version per tile of the job rollups (grain, bucket, scope): a number from one sequence, taken
-- anew by every statement that changes a row of that tile (the folder, retention). A tile
-- without a version row has not changed since this table exists.
--
-- Why: a view over a month adds up thousands of rows per tile, and all but the newest tiles
-- rarely change. Readers keep what closed tiles add up to and reuse it while their versions are
-- unchanged (backend/src/insight/cache.rs), so the answer stays exact across replicas.
create sequence job_rollup_version;

create table job_rollup_tiles (
    grain   smallint    not null,
    bucket  timestamptz not null,
    scope   smallint    not null,
    version int8        not null,
    primary key (grain, bucket, scope)
);
