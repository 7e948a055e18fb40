//! Who may do what: a token's scope, and the caller a request was made by.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a token may do. `admin` may do everything except manage what Kubernetes owns; `read` and
/// `ingest` only what they say; `operator` (the Kubernetes operator's token) reads, and manages the
/// rules and integrations declared as custom resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Ingest,
    Read,
    Admin,
    Operator,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
            Scope::Operator => "operator",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Scope::Ingest, Scope::Read, Scope::Admin, Scope::Operator]
            .into_iter()
            .find(|x| x.as_str() == s)
    }

    pub fn allows(self, needed: Scope) -> bool {
        self == needed
            || (self == Scope::Admin && needed != Scope::Operator)
            || (self == Scope::Operator && needed == Scope::Read)
    }
}

/// Who made a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// `None` for the bootstrap tokens from `CICD_ADMIN_TOKEN` and `CICD_OPERATOR_TOKEN`.
    pub token_id: Option<i64>,
    pub scope: Scope,
}
