//! Live updates across replicas. Writers announce changes with `NOTIFY` inside their transactions
//! ([`publish`]), so that every replica hears of each change exactly when it commits.

pub mod publish;

pub use publish::{IncidentChange, RunNotices, INCIDENTS, RUNS};
