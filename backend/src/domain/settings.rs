//! Runtime policy that operators change without a redeploy (the `settings` table): its typed
//! form, the validation of a replacement, and the mapping to stored key → JSON value rows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::FieldError;

/// Allowed `retention_days` and `rollup_retention_days`.
pub const RETENTION_DAYS: std::ops::RangeInclusive<i64> = 1..=3650;

/// The settings' names, in the order they are checked.
const KEYS: [&str; 8] = [
    "retention_days",
    "rollup_retention_days",
    "runner_prices",
    "currency",
    "test_retention_days",
    "auto_quarantine",
    "production_environments",
    "change_failure_causes",
];
/// Default `test_retention_days`: test results are the bulkiest data kept.
pub const DEFAULT_TEST_RETENTION_DAYS: i32 = 30;
/// Environments (names or globs) that `production_environments` may list.
pub const MAX_PRODUCTION_ENVIRONMENTS: usize = 100;
/// Labels a price table may name.
pub const MAX_PRICES: usize = 500;
/// The highest price per minute accepted (a typo guard: hosted runners cost cents).
pub const MAX_PRICE: f64 = 1000.0;

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
    /// Price per minute of a job by runner label (`{"ubuntu-latest": 0.008, "gpu": 0.12}`): a
    /// job costs its minutes (GitHub: rounded up per job, before the OS multiplier) times the
    /// highest price among its labels; labels not listed cost 0. Optional in a replacement
    /// (default: none).
    #[serde(default)]
    #[schema(example = json!({"ubuntu-latest": 0.008, "macos-14": 0.08, "gpu": 0.12}))]
    pub runner_prices: BTreeMap<String, f64>,
    /// The currency prices are in, shown beside costs (1–8 characters; default `USD`). Optional
    /// in a replacement.
    #[serde(default = "default_currency")]
    #[schema(min_length = 1, max_length = 8, example = "USD")]
    pub currency: String,
    /// How many days test results (reports, results, their messages and output, daily test
    /// figures and flakes) are kept (1–3650; default 30). Optional in a replacement.
    #[serde(default = "default_test_retention_days")]
    #[schema(minimum = 1, maximum = 3650, example = 30)]
    pub test_retention_days: i32,
    /// Quarantine a test by itself when it flaked on `flakes` commits within `days` days
    /// (`null`, the default: off). Optional in a replacement.
    #[serde(default)]
    pub auto_quarantine: Option<AutoQuarantine>,
    /// The environments whose deployments count as production for the DORA keys: exact names or
    /// globs (`*` any characters, `?` one), compared without regard to case; 1 to 100 of them
    /// (default `["production", "prod"]`). Optional in a replacement.
    #[serde(default = "default_production_environments")]
    #[schema(example = json!(["production", "prod", "prod-*"]))]
    pub production_environments: Vec<String>,
    /// What makes a production deployment a failed change, for the change failure rate and
    /// time to restore: its own failure (`failed_deployment`), being rolled back (`rollback`),
    /// an incident linked to it (`incident`); 1 to 3 of them (default all). Optional in a
    /// replacement.
    #[serde(default = "default_change_failure_causes")]
    pub change_failure_causes: Vec<ChangeFailureCause>,
}

/// A reason a production deployment counts as a failed change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeFailureCause {
    /// The deployment itself ended in `failure` or `error`.
    FailedDeployment,
    /// The next deployment of its service to its environment was a rollback.
    Rollback,
    /// An incident is linked to it.
    Incident,
}

impl ChangeFailureCause {
    pub const ALL: [ChangeFailureCause; 3] = [
        ChangeFailureCause::FailedDeployment,
        ChangeFailureCause::Rollback,
        ChangeFailureCause::Incident,
    ];
}

/// The auto-quarantine rule: "flaky `flakes` times in `days` days".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoQuarantine {
    /// Commits flaked on (1–1000).
    #[schema(minimum = 1, maximum = 1000, example = 3)]
    pub flakes: i32,
    /// Within this many days (1–365).
    #[schema(minimum = 1, maximum = 365, example = 14)]
    pub days: i32,
}

fn default_test_retention_days() -> i32 {
    DEFAULT_TEST_RETENTION_DAYS
}

fn default_production_environments() -> Vec<String> {
    vec!["production".to_owned(), "prod".to_owned()]
}

fn default_change_failure_causes() -> Vec<ChangeFailureCause> {
    ChangeFailureCause::ALL.to_vec()
}

fn default_currency() -> String {
    "USD".to_owned()
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retention_days: 90,
            rollup_retention_days: 400,
            runner_prices: BTreeMap::new(),
            currency: default_currency(),
            test_retention_days: DEFAULT_TEST_RETENTION_DAYS,
            auto_quarantine: None,
            production_environments: default_production_environments(),
            change_failure_causes: default_change_failure_causes(),
        }
    }
}

impl Settings {
    /// The settings from stored rows; a key that is missing or holds an unusable value keeps its
    /// default, and keys this version does not know are ignored.
    pub fn from_stored<'a>(rows: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Self {
        let mut s = Settings::default();
        for (key, value) in rows {
            match key {
                "runner_prices" => {
                    if let Ok(prices) = runner_prices(value) {
                        s.runner_prices = prices;
                    }
                }
                "currency" => {
                    if let Ok(c) = currency(value) {
                        s.currency = c;
                    }
                }
                "auto_quarantine" => {
                    if let Ok(rule) = auto_quarantine(value) {
                        s.auto_quarantine = rule;
                    }
                }
                "production_environments" => {
                    if let Ok(globs) = production_environments(value) {
                        s.production_environments = globs;
                    }
                }
                "change_failure_causes" => {
                    if let Ok(causes) = change_failure_causes(value) {
                        s.change_failure_causes = causes;
                    }
                }
                _ => {
                    let Some(days) = retention_days(value) else {
                        continue;
                    };
                    match key {
                        "retention_days" => s.retention_days = days,
                        "rollup_retention_days" => s.rollup_retention_days = days,
                        "test_retention_days" => s.test_retention_days = days,
                        _ => {}
                    }
                }
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
            ("runner_prices", serde_json::json!(self.runner_prices)),
            ("currency", Value::from(self.currency.clone())),
            ("test_retention_days", Value::from(self.test_retention_days)),
            ("auto_quarantine", serde_json::json!(self.auto_quarantine)),
            (
                "production_environments",
                serde_json::json!(self.production_environments),
            ),
            (
                "change_failure_causes",
                serde_json::json!(self.change_failure_causes),
            ),
        ]
    }

    /// The price per minute of a label set: the highest price among its labels (0 when none is
    /// listed).
    pub fn price_of(&self, labels: &[String]) -> f64 {
        labels
            .iter()
            .filter_map(|l| self.runner_prices.get(l))
            .fold(0.0, |a: f64, &b| a.max(b))
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
        let prices = match map.get("runner_prices") {
            None => Ok(BTreeMap::new()),
            Some(v) => runner_prices(v),
        }
        .map_err(|m| errors.push(FieldError::new("runner_prices", m)))
        .unwrap_or_default();
        let currency = match map.get("currency") {
            None => Ok(default_currency()),
            Some(v) => currency(v),
        }
        .map_err(|m| errors.push(FieldError::new("currency", m)))
        .unwrap_or_default();
        let test_retention_days = match map.get("test_retention_days") {
            None => Some(DEFAULT_TEST_RETENTION_DAYS),
            Some(v) => retention_days(v),
        }
        .unwrap_or_else(|| {
            errors.push(FieldError::new(
                "test_retention_days",
                format!(
                    "must be a whole number of days from {} to {}",
                    RETENTION_DAYS.start(),
                    RETENTION_DAYS.end()
                ),
            ));
            DEFAULT_TEST_RETENTION_DAYS
        });
        let auto_quarantine = map
            .get("auto_quarantine")
            .map_or(Ok(None), auto_quarantine)
            .map_err(|m| errors.push(FieldError::new("auto_quarantine", m)))
            .unwrap_or_default();
        let production = map
            .get("production_environments")
            .map_or_else(|| Ok(default_production_environments()), production_environments)
            .map_err(|m| errors.push(FieldError::new("production_environments", m)))
            .unwrap_or_default();
        let causes = map
            .get("change_failure_causes")
            .map_or_else(|| Ok(default_change_failure_causes()), change_failure_causes)
            .map_err(|m| errors.push(FieldError::new("change_failure_causes", m)))
            .unwrap_or_default();
        let mut days = ["retention_days", "rollup_retention_days"].map(|key| match map.get(key) {
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
                runner_prices: prices,
                currency,
                test_retention_days,
                auto_quarantine,
                production_environments: production,
                change_failure_causes: causes,
            }),
            _ => Err(errors),
        }
    }
}

/// A price table: an object of at most [`MAX_PRICES`] labels (as jobs' labels are normalised:
/// trimmed, lower case, no comma) to prices per minute from 0 to [`MAX_PRICE`].
pub fn runner_prices(v: &Value) -> Result<BTreeMap<String, f64>, String> {
    let Value::Object(m) = v else {
        return Err("must be an object of runner labels to prices per minute".into());
    };
    if m.len() > MAX_PRICES {
        return Err(format!("may list at most {MAX_PRICES} labels"));
    }
    let mut out = BTreeMap::new();
    for (label, price) in m {
        let normal = crate::domain::job_rollup::normalize_labels([label.clone()]);
        if normal.len() != 1 || &normal[0] != label || label.chars().count() > 255 {
            return Err(format!(
                "{label:?} is not a runner label as jobs carry them (trimmed, lower case, no comma, \
                 at most 255 characters)"
            ));
        }
        match price.as_f64() {
            Some(p) if (0.0..=MAX_PRICE).contains(&p) => {
                out.insert(label.clone(), p);
            }
            _ => {
                return Err(format!(
                    "the price of {label:?} must be a number from 0 to {MAX_PRICE}"
                ))
            }
        }
    }
    Ok(out)
}

pub fn currency(v: &Value) -> Result<String, String> {
    v.as_str()
        .map(str::trim)
        .filter(|c| (1..=8).contains(&c.chars().count()))
        .map(str::to_owned)
        .ok_or_else(|| "must be a currency code of 1 to 8 characters, such as USD or EUR".to_owned())
}

/// 1 to [`MAX_PRODUCTION_ENVIRONMENTS`] environment names or globs of 1 to 255 characters each.
pub fn production_environments(v: &Value) -> Result<Vec<String>, String> {
    let message = || {
        format!(
            "must be a list of 1 to {MAX_PRODUCTION_ENVIRONMENTS} environment names or globs (such as \"prod-*\"), \
             each 1 to 255 characters"
        )
    };
    let Value::Array(items) = v else {
        return Err(message());
    };
    let globs: Option<Vec<String>> = items
        .iter()
        .map(|i| {
            i.as_str()
                .map(str::trim)
                .filter(|g| (1..=255).contains(&g.chars().count()))
                .map(str::to_owned)
        })
        .collect();
    match globs {
        Some(g) if (1..=MAX_PRODUCTION_ENVIRONMENTS).contains(&g.len()) => Ok(g),
        _ => Err(message()),
    }
}

/// 1 to 3 distinct causes, kept in a fixed order.
pub fn change_failure_causes(v: &Value) -> Result<Vec<ChangeFailureCause>, String> {
    let message = || "must list 1 to 3 of \"failed_deployment\", \"rollback\" and \"incident\"".to_owned();
    let mut causes: Vec<ChangeFailureCause> = serde_json::from_value(v.clone()).map_err(|_| message())?;
    causes.sort_unstable();
    causes.dedup();
    if causes.is_empty() {
        return Err(message());
    }
    Ok(causes)
}

/// `null`, or `{"flakes": 1–1000, "days": 1–365}`.
pub fn auto_quarantine(v: &Value) -> Result<Option<AutoQuarantine>, String> {
    if v.is_null() {
        return Ok(None);
    }
    let rule: AutoQuarantine = serde_json::from_value(v.clone()).map_err(|_| {
        "must be null (off) or {\"flakes\": N, \"days\": D}: quarantine a test flaky on N commits within D days".to_owned()
    })?;
    if !(1..=1000).contains(&rule.flakes) || !(1..=365).contains(&rule.days) {
        return Err("flakes must be 1 to 1000 and days 1 to 365".into());
    }
    Ok(Some(rule))
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
                rollup_retention_days: 60,
                ..Settings::default()
            })
        );
        let priced = Settings::parse(&json!({"retention_days": 30, "rollup_retention_days": 60,
            "runner_prices": {"ubuntu-latest": 0.008, "gpu": 0.5}, "currency": "EUR"}))
        .unwrap();
        assert_eq!(priced.price_of(&["gpu".into(), "linux".into()]), 0.5);
        assert_eq!(priced.price_of(&["self-hosted".into()]), 0.0);
        assert_eq!(priced.currency, "EUR");
        for bad in [
            json!([]),
            json!({"GPU": 1}),
            json!({"a,b": 1}),
            json!({"gpu": -1}),
            json!({"gpu": "1"}),
        ] {
            assert_eq!(
                fields(json!({"retention_days": 30, "rollup_retention_days": 60, "runner_prices": bad})),
                ["runner_prices"],
                "{bad}"
            );
        }
        assert_eq!(
            fields(json!({"retention_days": 30, "rollup_retention_days": 60, "currency": ""})),
            ["currency"]
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
        let prod = Settings::parse(&json!({"retention_days": 30, "rollup_retention_days": 60,
            "production_environments": [" prod-* ", "live"]}))
        .unwrap();
        assert_eq!(prod.production_environments, ["prod-*", "live"]);
        for bad in [
            json!([]),
            json!("prod"),
            json!([""]),
            json!([1]),
            json!(["x".repeat(256)]),
        ] {
            assert_eq!(
                fields(
                    json!({"retention_days": 30, "rollup_retention_days": 60, "production_environments": bad})
                ),
                ["production_environments"],
                "{bad}"
            );
        }
        let causes = Settings::parse(&json!({"retention_days": 30, "rollup_retention_days": 60,
            "change_failure_causes": ["incident", "rollback", "incident"]}))
        .unwrap();
        assert_eq!(
            causes.change_failure_causes,
            [ChangeFailureCause::Rollback, ChangeFailureCause::Incident]
        );
        for bad in [json!([]), json!(["outage"]), json!("incident"), json!(null)] {
            assert_eq!(
                fields(
                    json!({"retention_days": 30, "rollup_retention_days": 60, "change_failure_causes": bad})
                ),
                ["change_failure_causes"],
                "{bad}"
            );
        }
    }

    #[test]
    fn stored_values_that_cannot_be_used_keep_the_default() {
        let (days, junk, other) = (json!(30), json!("soon"), json!(true));
        assert_eq!(
            Settings::from_stored([("retention_days", &days), ("future_key", &other)]),
            Settings {
                retention_days: 30,
                rollup_retention_days: 400,
                ..Settings::default()
            }
        );
        assert_eq!(
            Settings::from_stored([("retention_days", &junk), ("rollup_retention_days", &junk)]),
            Settings::default()
        );
        let settings = Settings {
            retention_days: 7,
            rollup_retention_days: 9,
            runner_prices: [("gpu".to_owned(), 0.25)].into(),
            currency: "EUR".into(),
            test_retention_days: 14,
            auto_quarantine: Some(AutoQuarantine { flakes: 3, days: 7 }),
            production_environments: vec!["prod-*".into()],
            change_failure_causes: vec![ChangeFailureCause::Incident],
        };
        let stored = settings.to_stored();
        assert_eq!(
            Settings::from_stored(stored.iter().map(|(k, v)| (*k, v))),
            settings
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
