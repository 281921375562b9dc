"""Every relative link in README.md and docs/**/*.md (markdown links and images) points to a
file or directory that exists inside the repository: no dead link, none that leaves the
source tree (e.g. ../shared/API.md, now copied to docs/api.md).  Web links (http, https,
mailto) and in-page anchors are not checked.  Skipped where the docs are not shipped (the
wheel's test directory)."""
import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# [text](target) and ![alt](target), the target up to whitespace or ")"; code spans removed
# first, since `[x](y)` inside backticks is an example, not a link
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def _pages():
    pages = [os.path.join(ROOT, "README.md")]
    pages += glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True)
    return sorted(p for p in pages if os.path.isfile(p))


def _links(path):
    with open(path, encoding="utf-8") as fh:
        text = _CODE.sub(lambda m: "\n" * m.group(0).count("\n"), fh.read())
    for m in _LINK.finditer(text):
        target = m.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue                              # http:, https:, mailto:, in-page anchor
        line = text.count("\n", 0, m.start()) + 1
        yield line, target.split("#", 1)[0]


# Known dead links, each with its reason; a strict xfail below fails once they resolve, so the
# entry is removed then.  The init study on 60 000 images (commit f9ea3c6) committed its report
# but not the weights/*.png figures the report shows.
KNOWN_BROKEN = {}   # page -> why its dead links are known (none now)

pytestmark = pytest.mark.skipif(not os.path.isdir(os.path.join(ROOT, "docs")),
                                reason="no docs/ beside tests/ (the wheel's test directory)")


def test_link_pattern_finds_links_and_skips_code():
    text = "a [x](b.md) ![i](img/c.png) `[no](d.md)` [w](https://e.org) [h](#top)"
    found = [m.group(1) for m in _LINK.finditer(_CODE.sub("", text))]
    assert found == ["b.md", "img/c.png", "https://e.org", "#top"]


def _broken(pages):
    bad = []
    for page in pages:
        for line, target in _links(page):
            if not target:
                continue
            resolved = os.path.normpath(os.path.join(os.path.dirname(page), target))
            where = "%s:%d: %s" % (os.path.relpath(page, ROOT), line, target)
            if os.path.commonpath([resolved, ROOT]) != ROOT:
                bad.append(where + " (leaves the repository)")
            elif not os.path.exists(resolved):
                bad.append(where + " (no such file)")
    return bad


def test_every_relative_link_resolves_inside_the_repository():
    pages = _pages()
    assert any(p.endswith("kernels.md") for p in pages)
    bad = _broken([p for p in pages if os.path.relpath(p, ROOT) not in KNOWN_BROKEN])
    assert not bad, "broken links:\n" + "\n".join(bad)


@pytest.mark.parametrize("page", sorted(KNOWN_BROKEN))
@pytest.mark.xfail(strict=True, reason="known dead links (KNOWN_BROKEN)")
def test_known_broken_pages(page):
    assert not _broken([os.path.join(ROOT, page)])
