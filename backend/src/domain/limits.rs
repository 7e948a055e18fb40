//! Limits on what is stored, in one place (docs/api.md's table of limits lists the same numbers).
//!
//! The generic API answers `422` naming the field when a client exceeds one (the client can fix
//! its request); provider payloads, whose senders cannot, are cut to fit and the cut is noted in
//! the run's `metadata.cleaned`.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Longest name stored (repo, workflow, branch, job, stage, runner, label, step, commit, trigger),
/// in characters.
pub const MAX_NAME: usize = 255;
/// Longest run or job id stored, in characters. Providers build ids from several parts
/// (`github:{repo}:{run id}:{attempt}`); a longer one keeps a prefix and the SHA-256 of the whole.
pub const MAX_ID: usize = 512;
/// Longest URL stored, in characters.
pub const MAX_URL: usize = 2048;
/// Longest free text stored (a job's failure reason), in characters.
pub const MAX_TEXT: usize = 4096;
/// Most runner labels kept per job.
pub const MAX_LABELS: usize = 64;
/// Most steps kept per job.
pub const MAX_STEPS: usize = 1000;
/// Deepest nesting of a JSON body (objects and arrays) accepted on ingest. serde_json stops at
/// 128 by itself; stored payloads are read back by PostgreSQL and the UI, so they stay shallower.
pub const MAX_JSON_DEPTH: usize = 64;
/// Generic API `meta`: most keys (counted in every nested object), longest key (characters) and
/// largest size serialized (bytes).
pub const MAX_META_KEYS: usize = 1000;
pub const MAX_META_KEY: usize = 255;
pub const MAX_META_BYTES: usize = 64 * 1024;
/// Largest metadata stored with a run (a provider's raw payload, or metadata merged from several
/// events), serialized. A larger provider payload is replaced by a note saying so.
pub const MAX_STORED_METADATA: usize = 256 * 1024;

/// Widest window of `GET /api/metrics`, and of `GET /api/runs` sorted by duration, in days.
pub const MAX_WINDOW_DAYS: i64 = 400;
/// Largest page of `GET /api/runs` and `GET /api/alerts`, and most recent runs of `GET /api/metrics`.
pub const MAX_PAGE: i64 = 500;

/// A 422 detail for each filter parameter longer than [`MAX_NAME`] (no stored value can match it).
pub fn filter_errors<'a>(
    filters: impl IntoIterator<Item = (&'a str, &'a Option<String>)>,
) -> Vec<crate::domain::FieldError> {
    filters
        .into_iter()
        .filter(|(_, v)| v.as_ref().is_some_and(|v| v.chars().count() > MAX_NAME))
        .map(|(name, _)| {
            crate::domain::FieldError::new(name, format!("must be at most {MAX_NAME} characters"))
        })
        .collect()
}

/// The string cut to `max` characters at a character boundary.
pub fn cut(s: String, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_owned(),
        None => s,
    }
}

/// An id of at most [`MAX_ID`] characters: a longer one becomes a prefix, `~` and the SHA-256 of
/// the whole, so that it stays unique and is the same for every event that names it.
pub fn capped_id(id: String, max: usize) -> String {
    if id.chars().count() <= max {
        return id;
    }
    let digest = hex::encode(Sha256::digest(id.as_bytes()));
    let prefix: String = id.chars().take(max - 1 - digest.len()).collect();
    format!("{prefix}~{digest}")
}

/// How deeply `body` nests arrays and objects, read without parsing it (brackets inside strings
/// do not count). Stops counting at `limit + 1`.
pub fn json_depth(body: &[u8], limit: usize) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
                if max > limit {
                    return max;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// The size of `v` serialized as compact JSON, in bytes, without building the string.
pub fn json_size(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    // Writing a Value into a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

/// Every key of every object in `v`, at any depth.
pub fn keys(v: &Value) -> Box<dyn Iterator<Item = &String> + '_> {
    match v {
        Value::Object(m) => Box::new(m.iter().flat_map(|(k, v)| std::iter::once(k).chain(keys(v)))),
        Value::Array(a) => Box::new(a.iter().flat_map(keys)),
        _ => Box::new(std::iter::empty()),
    }
}

/// What a NUL character (U+0000) in a request is told: PostgreSQL stores no NUL in `text` or `jsonb`.
pub const NUL_MESSAGE: &str = "must not contain a NUL character (U+0000)";

/// Whether a JSON text may hold a NUL character: JSON can only carry one as the escape `\u0000`
/// (a raw 0x00 byte is not valid JSON). A cheap test before the exact [`nul_path`].
pub fn may_hold_nul(json: &[u8]) -> bool {
    json.windows(6).any(|w| w == br"\u0000")
}

/// The path (`meta.a[2]`) of the first string or object key holding a NUL character; `""` when it
/// is the value itself.
pub fn nul_path(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => s.contains('\0').then(String::new),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_path(item).map(|rest| format!("[{i}]{}", dotted(&rest)))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                return Some(key.replace('\0', "\\u0000"));
            }
            nul_path(item).map(|rest| format!("{key}{}", dotted(&rest)))
        }),
        _ => None,
    }
}

/// Removes from `v` what a `T` read from it would ignore (unknown fields): those are never stored,
/// so a NUL there is no reason to refuse the request.
pub fn drop_ignored<T: serde::de::DeserializeOwned>(v: &mut Value) {
    let mut ignored: Vec<Vec<Step>> = Vec::new();
    let _ = serde_ignored::deserialize::<_, _, T>(&*v, |path| ignored.push(steps(&path)));
    for path in ignored {
        if let Some((Step::Key(key), parent)) = path.split_last() {
            let parent = parent.iter().try_fold(&mut *v, |v, step| match step {
                Step::Key(k) => v.get_mut(k.as_str()),
                Step::Index(i) => v.get_mut(*i),
            });
            if let Some(Value::Object(map)) = parent {
                map.remove(key);
            }
        }
    }
}

enum Step {
    Key(String),
    Index(usize),
}

/// The steps from the root to a value serde_ignored names.
fn steps(path: &serde_ignored::Path) -> Vec<Step> {
    use serde_ignored::Path;
    match path {
        Path::Root => Vec::new(),
        Path::Seq { parent, index } => {
            let mut steps = steps(parent);
            steps.push(Step::Index(*index));
            steps
        }
        Path::Map { parent, key } => {
            let mut steps = steps(parent);
            steps.push(Step::Key(key.clone()));
            steps
        }
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => {
            steps(parent)
        }
    }
}

fn dotted(rest: &str) -> String {
    if rest.is_empty() || rest.starts_with('[') {
        rest.to_owned()
    } else {
        format!(".{rest}")
    }
}

/// Replaces every NUL character in the strings and keys of `v` by U+FFFD (what a provider's
/// payload gets: it cannot be refused back to its sender); how many strings and keys changed.
pub fn replace_nul(v: &mut Value) -> usize {
    const REPLACEMENT: &str = "\u{FFFD}";
    match v {
        Value::String(s) if s.contains('\0') => {
            *s = s.replace('\0', REPLACEMENT);
            1
        }
        Value::Array(items) => items.iter_mut().map(replace_nul).sum(),
        Value::Object(map) => {
            let mut changed: usize = map.values_mut().map(replace_nul).sum();
            if map.keys().any(|k| k.contains('\0')) {
                let old = std::mem::take(map);
                for (key, item) in old {
                    if key.contains('\0') {
                        changed += 1;
                    }
                    map.insert(key.replace('\0', REPLACEMENT), item);
                }
            }
            changed
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_a_type_ignores_is_dropped_before_looking_for_a_nul() {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Body {
            name: String,
            items: Vec<Item>,
            meta: Option<Value>,
        }
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Item {
            id: i64,
        }
        let mut v = json!({
            "name": "a", "unknown": "x\u{0}", "items": [{"id": 1, "extra\u{0}": 1}],
            "meta": {"kept": "y\u{0}"}
        });
        drop_ignored::<Body>(&mut v);
        assert_eq!(
            v,
            json!({"name": "a", "items": [{"id": 1}], "meta": {"kept": "y\u{0}"}})
        );
        assert_eq!(nul_path(&v).as_deref(), Some("meta.kept"));
    }

    #[test]
    fn nul_characters_are_found_by_path_and_replaced() {
        let mut v = json!({"repo": "ok", "meta": {"a": [1, "x\u{0}y"]}});
        assert!(may_hold_nul(v.to_string().as_bytes()));
        assert_eq!(nul_path(&v).unwrap(), "meta.a[1]");
        assert_eq!(nul_path(&json!({"a": [[{"b": "\u{0}"}]]})).unwrap(), "a[0][0].b");
        assert_eq!(nul_path(&json!({"k\u{0}": 1})).unwrap(), "k\\u0000");
        assert_eq!(nul_path(&json!("\u{0}")).unwrap(), "");
        v["k\u{0}"] = json!(true);
        assert_eq!(replace_nul(&mut v), 2);
        assert_eq!(nul_path(&v), None);
        assert_eq!(v["meta"]["a"][1], "x\u{FFFD}y");
        assert_eq!(v["k\u{FFFD}"], true);
        assert!(!may_hold_nul(br#"{"a": "b"}"#));
    }

    #[test]
    fn depth_counts_brackets_outside_strings() {
        assert_eq!(json_depth(b"1", 64), 0);
        assert_eq!(json_depth(br#"{"a": [1, {"b": "[[[{{{"}]}"#, 64), 3);
        assert_eq!(json_depth(br#"{"a": "\"[[", "b": [[]]}"#, 64), 3);
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(json_depth(deep.as_bytes(), 64), 65);
        assert_eq!(json_depth(deep.as_bytes(), 200), 100);
    }

    #[test]
    fn size_is_the_compact_serialization() {
        let v = json!({"a": [1, "é"], "b": null});
        assert_eq!(json_size(&v), serde_json::to_vec(&v).unwrap().len());
    }

    #[test]
    fn keys_are_counted_at_every_depth() {
        let v = json!({"a": {"b": 1, "c": [{"d": 2}]}, "e": []});
        assert_eq!(keys(&v).count(), 5);
    }

    #[test]
    fn long_ids_keep_a_prefix_and_a_digest() {
        let long = "x".repeat(600);
        let id = capped_id(long.clone(), MAX_ID);
        assert_eq!(id.chars().count(), MAX_ID);
        assert_eq!(id, capped_id(long, MAX_ID));
        assert_ne!(id, capped_id("x".repeat(601), MAX_ID));
        assert_eq!(capped_id("short".into(), MAX_ID), "short");
        assert_eq!(cut("é".repeat(300), MAX_NAME).chars().count(), MAX_NAME);
    }
}
