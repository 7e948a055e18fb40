#!/usr/bin/env python3
"""Checks the links of the documentation, and points the book's links to repository files at the
repository.

    scripts/check-doc-links.py            check README.md, docs/**/*.md, charts/ci-cd-monitor/README.md
    scripts/check-doc-links.py --mdbook   mdBook preprocessor (docs/book.toml runs it; see below)

The check: every relative link (inline, image, reference definition, or an HTML href/src) must name
a file or directory that exists, and an #anchor must name a heading of the target Markdown file (or
an explicit `<a id>`/`<a name>`), with the slug GitHub computes; in a page of the book (docs/) the
slug mdBook computes must match too. Links with a scheme (https:, mailto:, …) are not followed.
docs/SUMMARY.md must list every page under docs/. Exits 1 on the first report with every broken
link listed.

The preprocessor: the book is built from docs/ alone, so a link from a page to a file elsewhere in
the repository (`../backend/src/writer.rs`) has nothing to point at on the published site. It is
rewritten to `{repository}/blob/{ref}/{path}` (`tree` for directories), where `repository` is
`[preprocessor.repo-links] repository` or else `[output.html] git-repository-url`, and `ref` is
`[preprocessor.repo-links] ref` (both can be set from the environment, e.g.
`MDBOOK_PREPROCESSOR__REPO_LINKS__REF=v1.2.3`). Links to a README.md inside docs/ become index.md,
the name mdBook gives that page.
"""

import json
import pathlib
import re
import sys
import unicodedata

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXTRA = [ROOT / "README.md", ROOT / "charts/ci-cd-monitor/README.md"]

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target "title") and ![alt](target); the text may hold one level of brackets (an image).
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFDEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)=\"([^\"]*)\"", re.IGNORECASE)
HTML_ID = re.compile(r"<a\b[^>]*?\b(?:id|name)=\"([^\"]+)\"", re.IGNORECASE)
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def prose_lines(text):
    """(line number, line) of every line outside fenced code blocks."""
    fence = None
    for n, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)[0] * len(m.group(1))
            elif line.strip().startswith(fence):
                fence = None
            continue
        if fence is None:
            yield n, line


def links(text):
    """(line number, target) of every link outside code."""
    for n, line in prose_lines(text):
        bare = CODE_SPAN.sub("", line)
        m = REFDEF.match(bare)
        if m:
            yield n, m.group(1)
        for pattern in (INLINE, HTML_LINK):
            for m in pattern.finditer(bare):
                yield n, m.group(1)


def heading_text(raw):
    """A heading as rendered text: links become their text, emphasis and code marks go."""
    raw = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", raw)
    raw = re.sub(r"<[^>]+>", "", raw)
    return raw.replace("`", "").replace("*", "").replace("\\", "")


def github_slug(text):
    out = []
    for ch in heading_text(text).strip().lower():
        if ch == " ":
            out.append("-")
        elif ch in "-_" or unicodedata.category(ch)[0] in "LNM":
            out.append(ch)
    return "".join(out)


def mdbook_slug(text):
    # mdBook's normalize_id: alphanumerics, '_' and '-' kept (ASCII letters lowercased), whitespace
    # becomes '-', everything else is dropped.
    out = []
    for ch in heading_text(text).strip():
        if ch.isalnum() or ch in "_-":
            out.append(ch.lower() if ch.isascii() else ch)
        elif ch.isspace():
            out.append("-")
    return "".join(out)


def anchors(path, slug):
    """The anchors a Markdown file defines: heading slugs (duplicates numbered) and HTML ids."""
    seen, out = {}, set()
    text = path.read_text()
    for _, line in prose_lines(text):
        m = HEADING.match(line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
        out.update(HTML_ID.findall(line))
    return out


def in_book(path):
    return DOCS in path.parents


def check_file(md, problems):
    rel = md.relative_to(ROOT)
    for n, target in links(md.read_text()):
        if not target or SCHEME.match(target) or target.startswith("//"):
            continue
        path_part, _, anchor = target.partition("#")
        if path_part.startswith("/"):
            problems.append(f"{rel}:{n}: {target}: absolute path (use a relative link)")
            continue
        dest = (md.parent / path_part).resolve() if path_part else md
        if not dest.exists():
            problems.append(f"{rel}:{n}: {target}: no such file")
            continue
        if ROOT != dest and ROOT not in dest.parents:
            problems.append(f"{rel}:{n}: {target}: outside the repository")
            continue
        if not anchor or dest.suffix != ".md" or dest.is_dir():
            continue
        slugs = [github_slug] + ([mdbook_slug] if in_book(md) and in_book(dest) else [])
        for slug in slugs:
            if anchor not in anchors(dest, slug):
                who = "GitHub" if slug is github_slug else "mdBook"
                problems.append(f"{rel}:{n}: {target}: no heading with the anchor #{anchor} ({who})")
                break


def check_summary(problems):
    summary = DOCS / "SUMMARY.md"
    listed = {(DOCS / t.partition("#")[0]).resolve() for _, t in links(summary.read_text()) if t}
    for page in sorted(DOCS.rglob("*.md")):
        if page != summary and page.resolve() not in listed:
            problems.append(f"docs/SUMMARY.md: does not list {page.relative_to(ROOT)}")


def check():
    files = sorted(DOCS.rglob("*.md")) + [f for f in EXTRA if f.exists()]
    problems = []
    for md in files:
        check_file(md, problems)
    check_summary(problems)
    for p in problems:
        print(p, flush=True)
    if problems:
        sys.exit(f"check-doc-links: {len(problems)} broken link(s) in {len(files)} files")
    print(f"check-doc-links: every relative link and anchor in {len(files)} files resolves")


# --- the mdBook preprocessor ------------------------------------------------------------------------


def rewrite(content, chapter_dir, repository, ref):
    """The chapter's text with links that leave docs/ pointed at the repository."""

    def target(t):
        if not t or SCHEME.match(t) or t.startswith(("#", "/")):
            return t
        path_part, hash_, anchor = t.partition("#")
        dest = (chapter_dir / path_part).resolve()
        if in_book(dest) or dest == DOCS:
            if dest.name == "README.md":
                return t.replace("README.md", "index.md") if path_part.endswith("README.md") else t
            return t
        if ROOT not in dest.parents or not dest.exists():
            return t
        kind = "tree" if dest.is_dir() else "blob"
        return f"{repository}/{kind}/{ref}/{dest.relative_to(ROOT).as_posix()}{hash_}{anchor}"

    out, fence = [], None
    for line in content.splitlines(keepends=True):
        m = FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)[0] * len(m.group(1))
            elif line.strip().startswith(fence):
                fence = None
        elif fence is None:
            line = INLINE.sub(lambda m: m.group(0).replace(f"({m.group(1)}", f"({target(m.group(1))}", 1), line)
        out.append(line)
    return "".join(out)


def walk(items, visit):
    for item in items:
        chapter = item.get("Chapter") if isinstance(item, dict) else None
        if chapter:
            visit(chapter)
            walk(chapter.get("sub_items", []), visit)


def preprocess():
    if len(sys.argv) > 2 and sys.argv[2] == "supports":
        sys.exit(0)  # every renderer
    context, book = json.load(sys.stdin)
    config = context.get("config", {})
    own = config.get("preprocessor", {}).get("repo-links", {})
    repository = (own.get("repository") or config.get("output", {}).get("html", {}).get("git-repository-url", ""))
    repository = repository.rstrip("/")
    ref = str(own.get("ref") or "main")
    if not repository:
        sys.exit("check-doc-links --mdbook: set [output.html] git-repository-url in book.toml")

    def visit(chapter):
        source = chapter.get("source_path") or chapter.get("path")
        if source:
            chapter_dir = (DOCS / source).parent
            chapter["content"] = rewrite(chapter["content"], chapter_dir, repository, ref)

    walk(book.get("items", book.get("sections", [])), visit)
    json.dump(book, sys.stdout)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--mdbook":
        preprocess()
    elif len(sys.argv) > 1:
        sys.exit(__doc__)
    else:
        check()
