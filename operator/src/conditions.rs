//! Status conditions: what a reconciliation found, turned into `Ready` and per-cause conditions.

use cicd_monitor_crds::status::reason;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// How a reconciliation ended, as the `Ready` condition's reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub reason: &'static str,
    pub message: String,
}

impl Outcome {
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Outcome {
            reason,
            message: message.into(),
        }
    }

    /// `Synced` and `Suspended` leave the resource Ready; every other reason is a problem.
    pub fn is_ready(&self) -> bool {
        self.reason == reason::SYNCED || self.reason == reason::SUSPENDED
    }

    /// Problems fixed only by changing the resource or what it references, not by retrying.
    pub fn is_permanent(&self) -> bool {
        !self.is_ready() && self.reason != reason::BACKEND_UNAVAILABLE
    }
}

/// One condition, `True` when `ok`.
pub fn condition(
    type_: &str,
    ok: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: if ok { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        observed_generation: generation,
        last_transition_time: Time(now),
    }
}

/// The new conditions, keeping each one's `lastTransitionTime` while its status stays the same.
pub fn merge(old: &[Condition], new: Vec<Condition>) -> Vec<Condition> {
    new.into_iter()
        .map(|mut c| {
            if let Some(prev) = old.iter().find(|p| p.type_ == c.type_) {
                if prev.status == c.status {
                    c.last_transition_time = prev.last_transition_time.clone();
                }
            }
            c
        })
        .collect()
}

/// The `Ready` condition's reason, if any.
pub fn ready_reason(conditions: &[Condition]) -> Option<&str> {
    cicd_monitor_crds::status::find(conditions, cicd_monitor_crds::status::READY).map(|c| c.reason.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("valid time")
    }

    #[test]
    fn a_condition_keeps_its_transition_time_until_its_status_flips() {
        let old = vec![condition("Ready", true, "Synced", "", Some(1), at(100))];
        let same = merge(
            &old,
            vec![condition("Ready", true, "Synced", "", Some(2), at(200))],
        );
        assert_eq!(same[0].last_transition_time, Time(at(100)));
        assert_eq!(same[0].observed_generation, Some(2));
        let flipped = merge(
            &old,
            vec![condition(
                "Ready",
                false,
                "BackendUnavailable",
                "down",
                Some(2),
                at(300),
            )],
        );
        assert_eq!(flipped[0].last_transition_time, Time(at(300)));
        assert_eq!(flipped[0].status, "False");
    }

    #[test]
    fn only_backend_outages_are_retried() {
        assert!(Outcome::new(reason::SYNCED, "").is_ready());
        assert!(Outcome::new(reason::SUSPENDED, "").is_ready());
        assert!(!Outcome::new(reason::BACKEND_UNAVAILABLE, "").is_permanent());
        for r in [
            reason::INVALID_SPEC,
            reason::SECRET_NOT_FOUND,
            reason::INTEGRATION_NOT_FOUND,
        ] {
            assert!(Outcome::new(r, "").is_permanent(), "{r}");
        }
    }
}
