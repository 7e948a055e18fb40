//! Parsing and normalizing inbound formats: pure functions from bytes to [`RunEvent`]s.

pub mod generic;
