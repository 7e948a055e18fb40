-- The deployments list reads the newest first, filtered by patterns (the production
-- environments) that no index on the environment serves: it walks this index until a page is
-- full instead of sorting every deployment.
create index deployments_newest on deployments (created_at desc, id desc);
-- The DORA keys of every service read the deployments of the production environments (named
-- once the patterns are resolved) that ended in a window: only those rows, not every
-- environment's. (Carrying the columns the keys read, for index-only scans, measured no faster.)
create index deployments_environment_finished on deployments (environment, finished_at)
    where finished_at is not null;
