//! The CI systems that runs come from. The compiler knows them: every place that treats providers
//! differently (receivers, webhook secrets, metric labels, the parsers' property tests) matches on
//! [`Provider`] without a catch-all, so a new provider fails to build until each place handles it.

use serde::{Deserialize, Serialize};
use strum::{Display, EnumIter, IntoEnumIterator, IntoStaticStr};
use utoipa::ToSchema;

/// A CI system with a receiver of its own. A run's `provider` is one of these names, or, through
/// the generic API, whatever its sender calls itself.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    EnumIter,
    IntoStaticStr,
    Display,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Provider {
    /// `POST /api/events` and `/api/events/batch` (the default name of a generic run).
    Generic,
    /// GitHub Actions webhooks, and the GitHub REST API poller.
    Github,
    /// GitLab pipeline and job hooks.
    Gitlab,
    /// The Jenkins Notification plugin.
    Jenkins,
    /// CDEvents (CloudEvents) pipeline and task run events.
    Cdevents,
}

/// How a provider's deliveries prove who sent them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Credential {
    /// An ingest token: `Authorization: Bearer` (or `?token=` where the sender cannot set headers).
    IngestToken,
    /// A secret shared with the provider, from the environment or a stored webhook source: an
    /// HMAC signature of the body (GitHub) or the secret itself in a header (GitLab).
    SharedSecret,
}

impl Provider {
    /// Its name, as runs, metric labels and the API carry it.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The provider of this name, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::iter().find(|p| p.as_str() == name)
    }

    /// The route that receives its events.
    pub fn receiver(self) -> &'static str {
        match self {
            Provider::Generic => "/api/events",
            Provider::Github => "/api/webhooks/github",
            Provider::Gitlab => "/api/webhooks/gitlab",
            Provider::Jenkins => "/api/webhooks/jenkins",
            Provider::Cdevents => "/api/webhooks/cdevents",
        }
    }

    /// What its deliveries are authenticated with.
    pub fn credential(self) -> Credential {
        match self {
            Provider::Github | Provider::Gitlab => Credential::SharedSecret,
            Provider::Generic | Provider::Jenkins | Provider::Cdevents => Credential::IngestToken,
        }
    }

    /// The providers whose webhooks carry a shared secret (those a webhook source can be for).
    pub fn with_secrets() -> impl Iterator<Item = Provider> {
        Self::iter().filter(|p| p.credential() == Credential::SharedSecret)
    }

    /// A bounded metric label for a run's provider: its name, or `other` for a name a generic
    /// sender chose.
    pub fn label(name: &str) -> &'static str {
        Self::parse(name).map_or("other", Provider::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_parse_and_serde() {
        for p in Provider::iter() {
            assert_eq!(Provider::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        assert_eq!(Provider::parse("GitHub"), None);
    }

    #[test]
    fn metric_labels_are_bounded() {
        assert_eq!(Provider::label("github"), "github");
        assert_eq!(Provider::label("my-own-ci-42"), "other");
    }

    #[test]
    fn only_github_and_gitlab_carry_secrets() {
        let names: Vec<_> = Provider::with_secrets().map(Provider::as_str).collect();
        assert_eq!(names, ["github", "gitlab"]);
    }
}
