//! Durations written as in Prometheus and Alertmanager configs: `30s`, `5m`, `4h`, `7d`, `1h30m`.

use std::borrow::Cow;
use std::time::Duration;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A whole number of seconds, written `30s`, `5m`, `4h`, `7d` or combinations (`1h30m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(Duration);

impl Span {
    pub const fn from_secs(secs: u64) -> Self {
        Span(Duration::from_secs(secs))
    }

    pub fn as_secs(self) -> u64 {
        self.0.as_secs()
    }

    pub fn duration(self) -> Duration {
        self.0
    }

    /// Reads `30s`, `1h30m`, `7d` (also `1 hour` and the other forms `humantime` reads).
    pub fn parse(s: &str) -> Result<Self, String> {
        let d = humantime::parse_duration(s.trim())
            .map_err(|e| format!("{s:?} is not a duration like 30s, 5m, 4h or 7d: {e}"))?;
        if d.subsec_nanos() != 0 {
            return Err(format!("{s:?}: use whole seconds"));
        }
        Ok(Span(d))
    }
}

/// Writes the shortest form in days, hours, minutes and seconds (`7d`, `1h30m`, `0s`).
impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut rest = self.as_secs();
        if rest == 0 {
            return f.write_str("0s");
        }
        for (unit, secs) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
            if rest >= secs {
                write!(f, "{}{unit}", rest / secs)?;
                rest %= secs;
            }
        }
        Ok(())
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        Span::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Pattern of a [`Span`] in JSON Schema (and so in the CRDs and the OpenAPI document).
pub const SPAN_PATTERN: &str = r"^([0-9]+(s|m|h|d))+$";

impl JsonSchema for Span {
    fn schema_name() -> Cow<'static, str> {
        "Span".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "pattern": SPAN_PATTERN})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_and_write_like_alertmanager() {
        assert_eq!(Span::parse("30s").unwrap().as_secs(), 30);
        assert_eq!(Span::parse("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(Span::parse("7d").unwrap().as_secs(), 7 * 86_400);
        assert_eq!(Span::from_secs(5400).to_string(), "1h30m");
        assert_eq!(Span::from_secs(7 * 86_400 + 1).to_string(), "7d1s");
        assert_eq!(Span::from_secs(0).to_string(), "0s");
        assert!(Span::parse("soon").is_err());
        assert!(Span::parse("1.5s").is_err());
    }
}
