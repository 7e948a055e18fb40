//! The Markdown reports the tools rewrite (docs/benchmarks.md, docs/reliability.md).

use std::path::Path;

/// In a report, this line and all after it are not the tool's: figures measured by other
/// commands (cold build times, bad-input and security checks), kept as they are.
pub const KEPT_MARKER: &str =
    "<!-- not written by cicd-bench or cicd-faults: kept as is when they rewrite this file -->";

/// Writes `generated` to `path`, followed by whatever follows [`KEPT_MARKER`] in the file there.
pub fn write_keeping(path: &Path, generated: &str) -> std::io::Result<()> {
    let mut md = generated.to_owned();
    let old = std::fs::read_to_string(path).unwrap_or_default();
    if let Some(i) = old.find(KEPT_MARKER) {
        md.push('\n');
        md.push_str(&old[i..]);
    }
    std::fs::write(path, md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_follows_the_marker_survives_a_rewrite() {
        let path = std::env::temp_dir().join(format!("cicd-report-test.{}.md", std::process::id()));
        std::fs::write(
            &path,
            format!("# Old\n\nold figures\n\n{KEPT_MARKER}\n\n## By hand\n\nkept\n"),
        )
        .unwrap();
        write_keeping(&path, "# New\n\nnew figures\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!("# New\n\nnew figures\n\n{KEPT_MARKER}\n\n## By hand\n\nkept\n")
        );
        // A file without the marker (or none at all) is replaced.
        std::fs::write(&path, "# Old\n").unwrap();
        write_keeping(&path, "# New\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "# New\n");
        std::fs::remove_file(&path).unwrap();
    }
}
