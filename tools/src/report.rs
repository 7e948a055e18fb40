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

/// `doc` (a report's generated part: what precedes [`KEPT_MARKER`]) with its section headed
/// `heading` replaced by `section`, up to the next `## ` heading; `section` is added at the end
/// when there is no such section.
pub fn replace_section(doc: &str, heading: &str, section: &str) -> String {
    let generated = doc.split(KEPT_MARKER).next().unwrap_or(doc).trim_end();
    let Some(start) = generated.find(heading) else {
        return format!("{generated}\n\n{section}");
    };
    let after = start + heading.len();
    let end = generated[after..]
        .find("\n## ")
        .map_or(generated.len(), |i| after + i + 1);
    format!("{}{section}{}", &generated[..start], &generated[end..])
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

    #[test]
    fn a_section_is_replaced_up_to_the_next_one_or_added() {
        let doc = "# R\n\n## A\n\na\n\n## Tests\n\nold\n\n## B\n\nb\n";
        assert_eq!(
            replace_section(doc, "## Tests", "## Tests\n\nnew\n\n"),
            "# R\n\n## A\n\na\n\n## Tests\n\nnew\n\n## B\n\nb"
        );
        assert_eq!(
            replace_section("# R\n\n## A\n", "## Tests", "## Tests\n"),
            "# R\n\n## A\n\n## Tests\n"
        );
    }
}
