//! Domain types: what a pipeline run is, how events about it merge, what it adds to the rollups,
//! who owns a rule or integration, who may do what, and what a notification says.

pub mod access;
pub mod field_error;
pub mod histogram;
pub mod job;
pub mod job_rollup;
pub mod limits;
pub mod merge;
pub mod notice;
pub mod owner;
pub mod provider;
pub mod rollup;
pub mod run;
pub mod settings;
pub mod test_case;

pub use field_error::FieldError;
pub use job::{Job, JobEvent, Step};
pub use merge::{merge, Outcome};
pub use provider::Provider;
pub use run::{Run, RunEvent, RunState, RunStatus};
