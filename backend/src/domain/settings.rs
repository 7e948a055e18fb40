//! Runtime policy that operators change without a redeploy (the `settings` table): its typed
//! form, the validation of a replacement, and the mapping to stored key → JSON value rows.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::FieldError;

/// Allowed `retention_days` and `rollup_retention_days`.
pub const RETENTION_DAYS: std::ops::RangeInclusive<i64> = 1..=3650;

/// The settings' names, in the order they are checked.
const KEYS: [&str; 2] = ["retention_days", "rollup_retention_days"];

/// Every runtime setting. `PUT /api/settings` replaces all of them at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// How many days runs (with their jobs and raw payloads) are kept (1–3650).
    #[schema(minimum = 1, maximum = 3650, example = 90)]
    pub retention_days: i32,
    /// How many days the hourly rollups behind the dashboard's counters are kept (1–3650, at
    /// least `retention_days`).
    #[schema(minimum = 1, maximum = 3650, example = 400)]
    pub rollup_retention_days: i32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retention_days: 90,
            rollup_retention_days: 400,
        }
    }
}

impl Settings {
    /// The settings from stored rows; a key that is missing or holds an unusable value keeps its
    /// default, and keys this version does not know are ignored.
    pub fn from_stored<'a>(rows: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Self {
        let mut s = Settings::default();
        for (key, value) in rows {
            let Some(days) = retention_days(value) else {
                continue;
            };
            match key {
                "retention_days" => s.retention_days = days,
                "rollup_retention_days" => s.rollup_retention_days = days,
                _ => {}
            }
        }
        // Rollups are never dropped before the runs they count.
        s.rollup_retention_days = s.rollup_retention_days.max(s.retention_days);
        s
    }

    /// The rows to store.
    pub fn to_stored(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("retention_days", Value::from(self.retention_days)),
            ("rollup_retention_days", Value::from(self.rollup_retention_days)),
        ]
    }

    /// A full replacement from a request body: every setting present and valid, no other key.
    /// Each problem names its field.
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let Value::Object(map) = body else {
            return Err(vec![FieldError::new("body", "must be a JSON object of settings")]);
        };
        let mut errors = Vec::new();
        for key in map.keys().filter(|k| !KEYS.contains(&k.as_str())) {
            errors.push(FieldError::new(
                key.as_str(),
                format!("unknown setting (known: {})", KEYS.join(", ")),
            ));
        }
        let mut days = KEYS.map(|key| match map.get(key) {
            None => {
                errors.push(FieldError::new(key, "is required"));
                None
            }
            Some(v) => {
                let days = retention_days(v);
                if days.is_none() {
                    errors.push(FieldError::new(
                        key,
                        format!(
                            "must be a whole number of days from {} to {}",
                            RETENTION_DAYS.start(),
                            RETENTION_DAYS.end()
                        ),
                    ));
                }
                days
            }
        });
        if let [Some(runs), Some(rollups)] = days {
            if rollups < runs {
                errors.push(FieldError::new(
                    "rollup_retention_days",
                    format!("must be at least retention_days ({runs}): rollups outlive the runs they count"),
                ));
                days[1] = None;
            }
        }
        match days {
            [Some(retention_days), Some(rollup_retention_days)] if errors.is_empty() => Ok(Settings {
                retention_days,
                rollup_retention_days,
            }),
            _ => Err(errors),
        }
    }
}

/// An integer JSON number within [`RETENTION_DAYS`] (`90`, not `90.0` or `"90"`).
fn retention_days(v: &Value) -> Option<i32> {
    v.as_i64()
        .filter(|d| RETENTION_DAYS.contains(d))
        .and_then(|d| i32::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(body: Value) -> Vec<String> {
        Settings::parse(&body)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_replacement_needs_every_setting_valid_and_nothing_else() {
        assert_eq!(
            Settings::parse(&json!({"retention_days": 30, "rollup_retention_days": 60})),
            Ok(Settings {
                retention_days: 30,
                rollup_retention_days: 60
            })
        );
        for ok in [1, 3650] {
            assert!(Settings::parse(&json!({ "retention_days": ok, "rollup_retention_days": ok })).is_ok());
        }
        for bad in [
            json!(0),
            json!(3651),
            json!(-5),
            json!(90.5),
            json!(90.0),
            json!("90"),
            json!(null),
        ] {
            assert_eq!(
                fields(json!({ "retention_days": bad, "rollup_retention_days": 400 })),
                ["retention_days"],
                "{bad}"
            );
            assert_eq!(
                fields(json!({ "retention_days": 1, "rollup_retention_days": bad })),
                ["rollup_retention_days"],
                "{bad}"
            );
        }
        assert_eq!(fields(json!({})), ["retention_days", "rollup_retention_days"]);
        assert_eq!(
            fields(json!({"retention_days": 30, "rollup_retention_days": 30, "retentionDays": 30})),
            ["retentionDays"]
        );
        assert_eq!(
            fields(json!({"retention_days": 30, "rollup_retention_days": 29})),
            ["rollup_retention_days"]
        );
        assert_eq!(fields(json!([1])), ["body"]);
    }

    #[test]
    fn stored_values_that_cannot_be_used_keep_the_default() {
        let (days, junk, other) = (json!(30), json!("soon"), json!(true));
        assert_eq!(
            Settings::from_stored([("retention_days", &days), ("future_key", &other)]),
            Settings {
                retention_days: 30,
                rollup_retention_days: 400
            }
        );
        assert_eq!(
            Settings::from_stored([("retention_days", &junk), ("rollup_retention_days", &junk)]),
            Settings::default()
        );
        let stored = Settings {
            retention_days: 7,
            rollup_retention_days: 9,
        }
        .to_stored();
        assert_eq!(
            Settings::from_stored(stored.iter().map(|(k, v)| (*k, v))),
            Settings {
                retention_days: 7,
                rollup_retention_days: 9
            }
        );
        // Rollups are kept at least as long as runs, whatever is stored.
        let (long, short) = (json!(500), json!(100));
        assert_eq!(
            Settings::from_stored([("retention_days", &long), ("rollup_retention_days", &short)])
                .rollup_retention_days,
            500
        );
    }
}
