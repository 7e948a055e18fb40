//! Delivery of the notification outbox. Every replica runs a worker; a worker takes an integration
//! whose send slot is due (`for update skip locked`, so each integration has one sender at a time
//! across replicas), sends its oldest pending notification, and moves the slot: one second later
//! after a Slack message (Slack accepts about one a second per webhook), after `Retry-After` on a
//! 429, after a jittered exponential backoff on 5xx and timeouts. Other 4xx fail the notification
//! for good and show the error on the integration. Notifications are sent in id order per
//! integration, so per group; a worker that dies mid-send leaves its row pending (at least once).

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use rand::Rng;
use secrecy::SecretString;
use sqlx::PgPool;

use super::deliver;
use super::integrations::Secrets;
use super::{Delivery, Notice, NoticeKind, Target};
use crate::crypto::SecretBox;
use crate::db;
use crate::db::integrations::IntegrationRow;
use crate::db::notifications::Pending;
use crate::domain::owner::Owner;
use crate::outbound::Guard;
use crate::telemetry::Metrics;

/// Attempts before a notification is given up.
const MAX_ATTEMPTS: i32 = 12;
/// Longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(600);

pub struct Outbox {
    pub pool: PgPool,
    /// Where the `LISTEN` connection comes from: a direct connection, not a transaction pooler.
    pub sessions: PgPool,
    pub secret_box: Option<SecretBox>,
    /// `SLACK_WEBHOOK_URL`: the URL of the integration whose source is `env`.
    pub env_slack: Option<SecretString>,
    /// Calls the URLs that users and namespaces supply, through [`Outbox::guard`].
    pub client: reqwest::Client,
    /// Calls what the deployment's own configuration names (`SLACK_WEBHOOK_URL`).
    pub trusted: reqwest::Client,
    pub guard: Arc<Guard>,
    pub metrics: Arc<Metrics>,
    /// First backoff after a retryable failure (doubles per attempt).
    pub backoff_base: Duration,
}

impl Outbox {
    /// Where an integration's messages go, its secrets opened; `None` when they cannot be.
    pub fn target(&self, i: &IntegrationRow) -> Option<Target> {
        let secrets: Secrets = if i.source == Owner::Env {
            Secrets {
                url: secrecy::ExposeSecret::expose_secret(self.env_slack.as_ref()?).to_owned(),
                hmac_secret: None,
            }
        } else {
            serde_json::from_slice(&self.secret_box.as_ref()?.open(&i.secrets_sealed)?).ok()?
        };
        Some(match i.kind.as_str() {
            "slack" => Target::Slack {
                url: secrets.url.into(),
            },
            _ => Target::Webhook {
                url: secrets.url.into(),
                hmac_secret: secrets.hmac_secret.map(Into::into),
            },
        })
    }

    /// Sends `notice` to integration `i` at `target`: what the configuration names as it is, what
    /// users and namespaces supply through the guard (a literal address checked first; a name's
    /// addresses as it is resolved).
    pub async fn send(&self, i: &IntegrationRow, target: &Target, notice: &Notice) -> Delivery {
        if i.source == Owner::Env {
            return deliver::send(&self.trusted, target, notice).await;
        }
        if let Err(why) = self.guard.check_literal(target.url()) {
            return Delivery::Permanent { reason: why.0 };
        }
        deliver::send(&self.client, target, notice).await
    }

    /// Delivers until the process ends, woken by `NOTIFY cicd_outbox` or every second.
    pub async fn run(self: Arc<Self>) {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.sessions)
            .await
            .ok();
        if let Some(l) = &mut listener {
            if let Err(e) = l.listen(db::notify::OUTBOX).await {
                tracing::debug!(error = %e, "outbox: no LISTEN, polling");
                listener = None;
            }
        }
        loop {
            match self.deliver_one().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "outbox delivery failed; retrying"),
            }
            let woken = match &mut listener {
                Some(l) => matches!(
                    tokio::time::timeout(Duration::from_secs(1), l.try_recv()).await,
                    Ok(Ok(_))
                ),
                None => false,
            };
            if !woken {
                // A timeout already waited; a failed listener must not make this loop spin.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    /// Sends one notification if an integration's slot is due; `false` when there was nothing to do.
    pub async fn deliver_one(&self) -> sqlx::Result<bool> {
        let mut tx = self.pool.begin().await?;
        let integration = db::integrations::next_due(&mut tx).await?;
        let Some(integration) = integration else {
            return Ok(false);
        };
        let Pending { id, notice, attempts } =
            db::notifications::oldest_pending(&mut tx, integration.id).await?;
        let result = match self.target(&integration) {
            Some(t) => self.send(&integration, &t, &notice.0).await,
            None => Delivery::Retry {
                after: Some(Duration::from_secs(60)),
                reason: "the integration's secrets cannot be opened (is CICD_SECRET_KEY set and unchanged?)"
                    .into(),
            },
        };
        let attempts = attempts + 1;
        let (status, error, wait, outcome) = match &result {
            Delivery::Sent => (
                "sent",
                None,
                if integration.kind == "slack" {
                    Duration::from_secs(1)
                } else {
                    Duration::ZERO
                },
                "sent",
            ),
            Delivery::Retry { after, reason } if attempts < MAX_ATTEMPTS => {
                let wait = after.unwrap_or_else(|| self.backoff(attempts));
                ("pending", Some(reason.clone()), wait, "retry")
            }
            Delivery::Retry { reason, .. } => (
                "failed",
                Some(format!("gave up after {attempts} attempts: {reason}")),
                Duration::from_secs(1),
                "failed",
            ),
            Delivery::Permanent { reason } => {
                ("failed", Some(reason.clone()), Duration::from_secs(1), "failed")
            }
        };
        db::notifications::record_attempt(&mut tx, id, status, attempts, error.as_deref()).await?;
        let next = Utc::now() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX);
        db::integrations::record_delivery(&mut tx, integration.id, next, error.as_deref()).await?;
        tx.commit().await?;
        self.count(&integration.kind, notice.0.kind, outcome, error.as_deref());
        match &error {
            Some(e) => {
                tracing::warn!(integration = %integration.name, notification = id, attempts, outcome, error = %e, "notification not delivered")
            }
            None => tracing::info!(integration = %integration.name, notification = id, "notification sent"),
        }
        Ok(true)
    }

    /// Counts one delivery attempt in `cicd_notifications_total`.
    pub fn count(&self, integration_kind: &str, kind: NoticeKind, outcome: &str, error: Option<&str>) {
        let reason = error.map_or("", reason_label);
        self.metrics
            .notifications
            .with_label_values(&[integration_kind, kind.as_str(), outcome, reason])
            .inc();
    }

    fn backoff(&self, attempts: i32) -> Duration {
        let exp = self
            .backoff_base
            .saturating_mul(1u32 << attempts.clamp(0, 16) as u32)
            .min(MAX_BACKOFF);
        exp.mul_f64(rand::thread_rng().gen_range(0.8..1.2))
    }
}

/// A bounded metric label for a delivery error (as `deliver::send` words it, possibly after
/// `gave up after N attempts: `): Slack's error code, an HTTP class, `timeout` or `network`.
fn reason_label(e: &str) -> &'static str {
    const CODES: [&str; 7] = [
        "invalid_payload",
        "no_text",
        "action_prohibited",
        "channel_not_found",
        "no_service",
        "channel_is_archived",
        "rollup_error",
    ];
    if let Some(code) = CODES.into_iter().find(|c| e.contains(c)) {
        return code;
    }
    if e.contains("HTTP 429") {
        "http_429"
    } else if e.contains("HTTP 5") {
        "http_5xx"
    } else if e.contains("HTTP 4") {
        "http_4xx"
    } else if e.contains("timed out") {
        "timeout"
    } else if e.contains("connection failed") {
        "network"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn delivery_errors_map_to_bounded_labels() {
        for (error, label) in [
            ("no_service", "no_service"),
            ("HTTP 429", "http_429"),
            ("gave up after 12 attempts: HTTP 503: upstream", "http_5xx"),
            ("HTTP 403: forbidden", "http_4xx"),
            ("timed out: after 5s", "timeout"),
            ("connection failed: refused", "network"),
            ("unusable target URL", "other"),
        ] {
            assert_eq!(super::reason_label(error), label, "{error}");
        }
    }
}
