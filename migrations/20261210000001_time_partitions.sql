-- Time partitions (see backend/src/db/partitions.rs, which converts the tables after the
-- migrations have run): what the writers need once ids are no longer unique by an index.

-- A report's id says when it was received: seconds since the epoch shifted left by 20 bits, plus
-- a sequence for the reports of one second (up to a million a second). The results and details
-- are partitioned by it, so a range of ids is a range of time. Ids stay below 2^53, exact in
-- JavaScript, until the year 2242. Ids already given are far smaller, so order is kept.
create sequence test_upload_seq;
create function test_upload_id() returns bigint language sql volatile as $$
    select (floor(extract(epoch from clock_timestamp()))::bigint << 20) | (nextval('test_upload_seq') & 1048575)
$$;
alter table test_uploads alter column id drop identity;
alter table test_uploads alter column id set default test_upload_id();

-- Takes the advisory lock of each of these run ids (class 1, keyed by the id's hash, in key order
-- so that writers never deadlock) until the transaction ends, then returns those that are not
-- stored yet. Being volatile, its lookup sees every run committed before it got the locks, even
-- when the statement calling it started earlier: a run another writer just inserted is not
-- returned twice.
create function claim_new_runs(ids text[]) returns setof text language plpgsql volatile as $$
begin
    perform pg_advisory_xact_lock(1, k) from (select distinct hashtext(i) as k from unnest(ids) i) l order by k;
    return query select i from unnest(ids) i where not exists (select 1 from pipeline_runs r where r.id = i);
end
$$;
