//! What is wrong with a request's field, said in a user's words: shared by every module that
//! validates input, and turned into the API's `422` at the HTTP edge.

use serde::Serialize;
use utoipa::ToSchema;

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FieldError {
    /// Dotted path of the field (`status`, `[3].started_at`).
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// serde's and chrono's words, in a user's: no Rust type names (`expected f64` is `expected a
/// number`), and a date that cannot be read says which format is expected.
pub fn in_plain_words(message: &str) -> String {
    const TYPES: [(&str, &str); 4] = [
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected an object"),
        ("expected unit", "expected null"),
        ("expected a borrowed string", "expected a string"),
    ];
    const NUMBERS: [&str; 12] = [
        "f64", "f32", "i64", "i32", "i16", "i8", "u64", "u32", "u16", "u8", "usize", "isize",
    ];
    // chrono's parse errors, as its `Display` writes them.
    const DATE_ERRORS: [&str; 6] = [
        "input contains invalid characters",
        "premature end of input",
        "trailing input",
        "input is out of range",
        "no possible date and time matching input",
        "input is not enough for unique date and time",
    ];
    let mut text = message.to_owned();
    for (rust, plain) in TYPES {
        text = text.replace(rust, plain);
    }
    for number in NUMBERS {
        let plain = if number.starts_with('f') {
            "a number"
        } else {
            "an integer"
        };
        text = replace_word(&text, &format!("expected {number}"), &format!("expected {plain}"));
    }
    while let Some(at) = text.find("expected struct ") {
        let name_end = text[at + 16..]
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .map_or(text.len(), |n| at + 16 + n);
        text.replace_range(at..name_end, "expected an object");
    }
    if DATE_ERRORS.iter().any(|e| text.contains(e)) {
        text.push_str(": expected an RFC 3339 date-time such as 2026-01-31T09:30:00Z");
    }
    text
}

/// `text` with `word` replaced where it is not followed by more of a word.
fn replace_word(text: &str, word: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let after = &rest[at + word.len()..];
        out.push_str(&rest[..at]);
        if after.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
            out.push_str(word);
        } else {
            out.push_str(with);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::in_plain_words;

    #[test]
    fn serde_and_chrono_words_become_plain_ones() {
        assert_eq!(
            in_plain_words("invalid type: string \"x\", expected f64"),
            "invalid type: string \"x\", expected a number"
        );
        assert_eq!(
            in_plain_words("invalid value: integer `-1`, expected u32"),
            "invalid value: integer `-1`, expected an integer"
        );
        assert_eq!(
            in_plain_words("invalid type: string \"s\", expected struct SecretValue"),
            "invalid type: string \"s\", expected an object"
        );
        assert_eq!(
            in_plain_words("invalid type: map, expected a sequence"),
            "invalid type: map, expected an array"
        );
        // A word that only starts like a type name stays.
        assert_eq!(in_plain_words("expected u8x"), "expected u8x");
        assert_eq!(
            in_plain_words("from: input contains invalid characters"),
            "from: input contains invalid characters: expected an RFC 3339 date-time such as \
             2026-01-31T09:30:00Z"
        );
    }
}
