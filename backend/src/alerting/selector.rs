//! A rule's `match`: provider, repo, workflows and branches, each exact or a glob.

use globset::{Glob, GlobMatcher};

use cicd_monitor_crds::Selector;

/// A compiled selector. An absent or empty field matches everything.
#[derive(Debug, Clone)]
pub struct Matcher {
    provider: Vec<GlobMatcher>,
    repo: Vec<GlobMatcher>,
    workflows: Vec<GlobMatcher>,
    branches: Vec<GlobMatcher>,
}

fn compile(
    field: &'static str,
    patterns: &[String],
    errors: &mut Vec<(&'static str, String)>,
) -> Vec<GlobMatcher> {
    patterns
        .iter()
        .filter_map(|p| match Glob::new(p.trim()) {
            Ok(g) => Some(g.compile_matcher()),
            Err(e) => {
                errors.push((field, format!("{p:?} is not a valid glob: {}", e.kind())));
                None
            }
        })
        .collect()
}

fn any(matchers: &[GlobMatcher], value: &str) -> bool {
    matchers.is_empty() || matchers.iter().any(|m| m.is_match(value))
}

impl Matcher {
    pub fn new(s: &Selector) -> Result<Self, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        let m = Matcher {
            provider: compile("match.provider", s.provider.as_slice(), &mut errors),
            repo: compile("match.repo", s.repo.as_slice(), &mut errors),
            workflows: compile("match.workflows", &s.workflows, &mut errors),
            branches: compile("match.branches", &s.branches, &mut errors),
        };
        if errors.is_empty() {
            Ok(m)
        } else {
            Err(errors)
        }
    }

    /// Whether runs with these dimensions are watched (a run without a branch has branch `""`).
    pub fn matches(&self, provider: &str, repo: &str, workflow: &str, branch: &str) -> bool {
        any(&self.provider, provider)
            && any(&self.repo, repo)
            && any(&self.workflows, workflow)
            && any(&self.branches, branch)
    }

    /// Whether every repository is watched (`match.repo` is empty).
    pub fn any_repo(&self) -> bool {
        self.repo.is_empty()
    }

    /// Whether `repo` is watched, whatever the other fields say.
    pub fn matches_repo(&self, repo: &str) -> bool {
        any(&self.repo, repo)
    }

    /// Whether only `repo` (if anything) is selected: provider, workflows and branches are empty.
    pub fn selects_repo_only(&self) -> bool {
        self.provider.is_empty() && self.workflows.is_empty() && self.branches.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(v: serde_json::Value) -> Matcher {
        Matcher::new(&serde_json::from_value(v).unwrap()).unwrap()
    }

    #[test]
    fn exact_values_and_globs_match() {
        let m = sel(
            serde_json::json!({"provider": "github", "repo": "org/payments-*", "workflows": ["ci"],
                                        "branches": ["main", "release/*"]}),
        );
        assert!(m.matches("github", "org/payments-api", "ci", "main"));
        assert!(m.matches("github", "org/payments-api", "ci", "release/1.2"));
        assert!(!m.matches("gitlab", "org/payments-api", "ci", "main"));
        assert!(!m.matches("github", "org/web", "ci", "main"));
        assert!(!m.matches("github", "org/payments-api", "deploy", "main"));
        assert!(!m.matches("github", "org/payments-api", "ci", "feature/x"));
        assert!(sel(serde_json::json!({})).matches("any", "thing", "at", ""));
    }

    #[test]
    fn a_repository_alone_is_matched_on_its_own() {
        let m = sel(serde_json::json!({"repo": "org/*", "branches": ["main"]}));
        assert!(m.matches_repo("org/app") && !m.matches_repo("other/app"));
        assert!(!m.selects_repo_only());
        assert!(sel(serde_json::json!({"repo": "org/*"})).selects_repo_only());
        assert!(sel(serde_json::json!({})).matches_repo("anything"));
        assert!(sel(serde_json::json!({})).any_repo() && !m.any_repo());
    }

    #[test]
    fn bad_globs_are_named() {
        let err = Matcher::new(&serde_json::from_value(serde_json::json!({"branches": ["[oops"]})).unwrap())
            .unwrap_err();
        assert_eq!(err[0].0, "match.branches");
    }
}
