-- Attempts and queue time.
--
-- run_key links the attempts of one run (GitHub re-runs keep the run id and raise run_attempt), so
-- that a run that failed and then passed on re-run is identifiable; NULL when the source does not say.
alter table pipeline_runs add column run_key text;
create index idx_runs_run_key on pipeline_runs (run_key, attempt) where run_key is not null;

-- Queue time (started_at - queued_at) of finished runs, in the rollups as durations are: a count, a
-- sum in milliseconds and a histogram on the same log scale (q00..q63), so that the dashboard shows
-- its average and p95 without reading runs.
alter table run_rollups
    add column queue_count bigint not null default 0,
    add column queue_ms bigint not null default 0,
    add column q00 bigint not null default 0,
    add column q01 bigint not null default 0,
    add column q02 bigint not null default 0,
    add column q03 bigint not null default 0,
    add column q04 bigint not null default 0,
    add column q05 bigint not null default 0,
    add column q06 bigint not null default 0,
    add column q07 bigint not null default 0,
    add column q08 bigint not null default 0,
    add column q09 bigint not null default 0,
    add column q10 bigint not null default 0,
    add column q11 bigint not null default 0,
    add column q12 bigint not null default 0,
    add column q13 bigint not null default 0,
    add column q14 bigint not null default 0,
    add column q15 bigint not null default 0,
    add column q16 bigint not null default 0,
    add column q17 bigint not null default 0,
    add column q18 bigint not null default 0,
    add column q19 bigint not null default 0,
    add column q20 bigint not null default 0,
    add column q21 bigint not null default 0,
    add column q22 bigint not null default 0,
    add column q23 bigint not null default 0,
    add column q24 bigint not null default 0,
    add column q25 bigint not null default 0,
    add column q26 bigint not null default 0,
    add column q27 bigint not null default 0,
    add column q28 bigint not null default 0,
    add column q29 bigint not null default 0,
    add column q30 bigint not null default 0,
    add column q31 bigint not null default 0,
    add column q32 bigint not null default 0,
    add column q33 bigint not null default 0,
    add column q34 bigint not null default 0,
    add column q35 bigint not null default 0,
    add column q36 bigint not null default 0,
    add column q37 bigint not null default 0,
    add column q38 bigint not null default 0,
    add column q39 bigint not null default 0,
    add column q40 bigint not null default 0,
    add column q41 bigint not null default 0,
    add column q42 bigint not null default 0,
    add column q43 bigint not null default 0,
    add column q44 bigint not null default 0,
    add column q45 bigint not null default 0,
    add column q46 bigint not null default 0,
    add column q47 bigint not null default 0,
    add column q48 bigint not null default 0,
    add column q49 bigint not null default 0,
    add column q50 bigint not null default 0,
    add column q51 bigint not null default 0,
    add column q52 bigint not null default 0,
    add column q53 bigint not null default 0,
    add column q54 bigint not null default 0,
    add column q55 bigint not null default 0,
    add column q56 bigint not null default 0,
    add column q57 bigint not null default 0,
    add column q58 bigint not null default 0,
    add column q59 bigint not null default 0,
    add column q60 bigint not null default 0,
    add column q61 bigint not null default 0,
    add column q62 bigint not null default 0,
    add column q63 bigint not null default 0;

-- Rollups of runs recorded before this migration get their queue time (the same bucketing as the
-- application: bucket 0 below a second, then four per doubling, the last open-ended).
with q as (
    select r.*, extract(epoch from r.started_at - r.queued_at)::float8 as q
    from pipeline_runs r
    where r.status in ('success', 'failure', 'cancelled', 'skipped')
      and r.started_at >= r.queued_at
), c as (
    select run_at, status, q, round(q * 1000)::int8 as qm, least(63, case when q < 1 then 0 else floor(4 * log(2, q::numeric))::int + 1 end) as qb,
           repo, workflow, coalesce(branch, '') as branch
    from q
), k as (
    select 0::int2 as scope, '' as repo, '' as workflow, '' as branch, run_at, status, qm, qb from c
    union all select 1, repo, '', '', run_at, status, qm, qb from c
    union all select 2, repo, workflow, '', run_at, status, qm, qb from c
    union all select 3, '', '', branch, run_at, status, qm, qb from c
    union all select 4, '', workflow, '', run_at, status, qm, qb from c
), b as (
    select scope, repo, workflow, branch, date_trunc('hour', run_at, 'UTC') as bucket, status,
           count(*) as queue_count, sum(qm)::int8 as queue_ms,
           count(*) filter (where qb = 0) as q00,
           count(*) filter (where qb = 1) as q01,
           count(*) filter (where qb = 2) as q02,
           count(*) filter (where qb = 3) as q03,
           count(*) filter (where qb = 4) as q04,
           count(*) filter (where qb = 5) as q05,
           count(*) filter (where qb = 6) as q06,
           count(*) filter (where qb = 7) as q07,
           count(*) filter (where qb = 8) as q08,
           count(*) filter (where qb = 9) as q09,
           count(*) filter (where qb = 10) as q10,
           count(*) filter (where qb = 11) as q11,
           count(*) filter (where qb = 12) as q12,
           count(*) filter (where qb = 13) as q13,
           count(*) filter (where qb = 14) as q14,
           count(*) filter (where qb = 15) as q15,
           count(*) filter (where qb = 16) as q16,
           count(*) filter (where qb = 17) as q17,
           count(*) filter (where qb = 18) as q18,
           count(*) filter (where qb = 19) as q19,
           count(*) filter (where qb = 20) as q20,
           count(*) filter (where qb = 21) as q21,
           count(*) filter (where qb = 22) as q22,
           count(*) filter (where qb = 23) as q23,
           count(*) filter (where qb = 24) as q24,
           count(*) filter (where qb = 25) as q25,
           count(*) filter (where qb = 26) as q26,
           count(*) filter (where qb = 27) as q27,
           count(*) filter (where qb = 28) as q28,
           count(*) filter (where qb = 29) as q29,
           count(*) filter (where qb = 30) as q30,
           count(*) filter (where qb = 31) as q31,
           count(*) filter (where qb = 32) as q32,
           count(*) filter (where qb = 33) as q33,
           count(*) filter (where qb = 34) as q34,
           count(*) filter (where qb = 35) as q35,
           count(*) filter (where qb = 36) as q36,
           count(*) filter (where qb = 37) as q37,
           count(*) filter (where qb = 38) as q38,
           count(*) filter (where qb = 39) as q39,
           count(*) filter (where qb = 40) as q40,
           count(*) filter (where qb = 41) as q41,
           count(*) filter (where qb = 42) as q42,
           count(*) filter (where qb = 43) as q43,
           count(*) filter (where qb = 44) as q44,
           count(*) filter (where qb = 45) as q45,
           count(*) filter (where qb = 46) as q46,
           count(*) filter (where qb = 47) as q47,
           count(*) filter (where qb = 48) as q48,
           count(*) filter (where qb = 49) as q49,
           count(*) filter (where qb = 50) as q50,
           count(*) filter (where qb = 51) as q51,
           count(*) filter (where qb = 52) as q52,
           count(*) filter (where qb = 53) as q53,
           count(*) filter (where qb = 54) as q54,
           count(*) filter (where qb = 55) as q55,
           count(*) filter (where qb = 56) as q56,
           count(*) filter (where qb = 57) as q57,
           count(*) filter (where qb = 58) as q58,
           count(*) filter (where qb = 59) as q59,
           count(*) filter (where qb = 60) as q60,
           count(*) filter (where qb = 61) as q61,
           count(*) filter (where qb = 62) as q62,
           count(*) filter (where qb = 63) as q63
    from k group by 1, 2, 3, 4, 5, 6
)
update run_rollups r set queue_count = r.queue_count + b.queue_count, queue_ms = r.queue_ms + b.queue_ms,
    q00 = r.q00 + b.q00, q01 = r.q01 + b.q01, q02 = r.q02 + b.q02, q03 = r.q03 + b.q03, q04 = r.q04 + b.q04, q05 = r.q05 + b.q05, q06 = r.q06 + b.q06, q07 = r.q07 + b.q07, q08 = r.q08 + b.q08, q09 = r.q09 + b.q09, q10 = r.q10 + b.q10, q11 = r.q11 + b.q11, q12 = r.q12 + b.q12, q13 = r.q13 + b.q13, q14 = r.q14 + b.q14, q15 = r.q15 + b.q15, q16 = r.q16 + b.q16, q17 = r.q17 + b.q17, q18 = r.q18 + b.q18, q19 = r.q19 + b.q19, q20 = r.q20 + b.q20, q21 = r.q21 + b.q21, q22 = r.q22 + b.q22, q23 = r.q23 + b.q23, q24 = r.q24 + b.q24, q25 = r.q25 + b.q25, q26 = r.q26 + b.q26, q27 = r.q27 + b.q27, q28 = r.q28 + b.q28, q29 = r.q29 + b.q29, q30 = r.q30 + b.q30, q31 = r.q31 + b.q31, q32 = r.q32 + b.q32, q33 = r.q33 + b.q33, q34 = r.q34 + b.q34, q35 = r.q35 + b.q35, q36 = r.q36 + b.q36, q37 = r.q37 + b.q37, q38 = r.q38 + b.q38, q39 = r.q39 + b.q39, q40 = r.q40 + b.q40, q41 = r.q41 + b.q41, q42 = r.q42 + b.q42, q43 = r.q43 + b.q43, q44 = r.q44 + b.q44, q45 = r.q45 + b.q45, q46 = r.q46 + b.q46, q47 = r.q47 + b.q47, q48 = r.q48 + b.q48, q49 = r.q49 + b.q49, q50 = r.q50 + b.q50, q51 = r.q51 + b.q51, q52 = r.q52 + b.q52, q53 = r.q53 + b.q53, q54 = r.q54 + b.q54, q55 = r.q55 + b.q55, q56 = r.q56 + b.q56, q57 = r.q57 + b.q57, q58 = r.q58 + b.q58, q59 = r.q59 + b.q59, q60 = r.q60 + b.q60, q61 = r.q61 + b.q61, q62 = r.q62 + b.q62, q63 = r.q63 + b.q63
from b
where r.scope = b.scope and r.repo = b.repo and r.workflow = b.workflow and r.branch = b.branch
  and r.bucket = b.bucket and r.status = b.status;
