//! Alerting: rules are evaluated into incidents, incidents into notifications in a PostgreSQL outbox,
//! and the outbox is delivered to Slack or generic webhooks.

pub mod deliver;
pub mod delivery;
pub mod engine;
pub mod evaluate;
pub mod incidents;
pub mod integrations;
pub mod jobs;
pub mod outbox;
pub mod owned;
pub mod rules;
pub mod selector;
pub mod test_results;

pub use crate::domain::notice::{Notice, NoticeKind};

use std::time::Duration;

use secrecy::SecretString;

/// Where a notification goes, with its secrets opened.
#[derive(Debug, Clone)]
pub enum Target {
    Slack {
        url: SecretString,
    },
    Webhook {
        url: SecretString,
        hmac_secret: Option<SecretString>,
    },
}

impl Target {
    pub fn url(&self) -> &str {
        match self {
            Target::Slack { url } | Target::Webhook { url, .. } => secrecy::ExposeSecret::expose_secret(url),
        }
    }
}

/// What an attempt to deliver came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Sent,
    /// Try again later (429, 5xx, timeout, connection error); `after` is the receiver's
    /// `Retry-After` when it gave one.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// Never going to work as configured (other 4xx): the reason is shown on the integration.
    Permanent {
        reason: String,
    },
}
