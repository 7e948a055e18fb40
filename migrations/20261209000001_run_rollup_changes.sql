-- Rollup contributions waiting to be folded into run_rollups (ADR 0021).
--
-- A run write no longer upserts run_rollups rows: it appends one narrow row here per finished run
-- it records (sign +1), and for a correction one for the run's old state (sign -1) and one for its
-- new state (+1), in the run's own transaction. The folder moves them into run_rollups: it deletes
-- a batch of rows and adds them up into the five scopes in one transaction, so every change is
-- counted exactly once. Readers of the primary fold what is waiting before they read the rollups.
--
-- No index: the folder takes rows in heap order and deletes them by ctid. bucket is the hour the
-- run is charted in; duration_ms and queue_ms are null when the run has none; the *_bucket columns
-- are their log-scale histogram buckets (backend/src/domain/histogram.rs).
create table run_rollup_changes (
    repo            text        not null,
    workflow        text        not null,
    branch          text        not null,
    bucket          timestamptz not null,
    status          text        not null,
    sign            int2        not null check (sign in (-1, 1)),
    duration_ms     int8,
    duration_bucket int2,
    queue_ms        int8,
    queue_bucket    int2
);

-- Rows live for a fraction of a second: vacuum after every few thousand deletions, not after a
-- fifth of the table.
alter table run_rollup_changes set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
                                    autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 5000);

-- Whatever the writers added to run_rollups before this version was already counted there; a
-- write in flight during the upgrade commits either before (old code, into run_rollups) or after
-- (new code, into this table), never both.
