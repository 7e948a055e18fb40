//! Tools that drive the release backend from outside: `cicd-bench` (`make bench`) and
//! `cicd-faults` (`make reliability`, shortened in `make test`).

pub mod capacity;
pub mod cost;
pub mod dora_bench;
pub mod latency;
pub mod profile;
pub mod report;
pub mod server;
pub mod tests_bench;
