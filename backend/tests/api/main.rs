//! API tests against a real PostgreSQL: each test gets a fresh, migrated database.
//! Run through `make test`, which starts a throwaway cluster and sets DATABASE_URL.
#![allow(clippy::unwrap_used, clippy::too_many_arguments)]

mod access;
mod alerting;
mod audit;
mod branches;
mod db_faults;
mod delivery;
mod delivery_alerts;
mod deployments;
mod dora;
mod fake_slack;
mod github_sync;
mod health;
mod ingest;
mod job_alerts;
mod job_rollups;
mod jobs;
mod limits;
mod logs;
mod metrics;
mod outbound;
mod partitions;
mod retention;
mod rollups;
mod runs;
mod security;
mod settings;
mod stream;
mod support;
mod test_alerts;
mod test_results;
mod tokens;
mod webhooks;
