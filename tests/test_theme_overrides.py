"""A project's templates/ and styles/ hold only what the clinic changes from careleaf's theme: a file there
replaces the theme's file of the same name, or names the theme's own as "theme/…" to keep it and add to it.
The repository's top and every new project are laid out that way.
"""

from __future__ import annotations

from pathlib import Path

from careleaf.build.run import pages
from careleaf.content.catalog import load_catalog
from careleaf.content.starter import new_project
from careleaf.project import Project

from conftest import mini_project

ROOT = Path(__file__).resolve().parent.parent
NOTE = '<p class="clinic-note">Our nurses answer this line until 22:00.</p>'


def aftercare_html(root: Path) -> str:
    project = Project(root)
    return next(page.html for page in pages(project, load_catalog(project), large_print=False)
                if page.job.kind == "aftercare")


def test_a_project_template_can_keep_the_themes_block_and_add_to_it(tmp_path):
    before = aftercare_html(mini_project(tmp_path / "as-shipped"))
    root = mini_project(tmp_path / "clinic")
    own = root / "templates" / "components" / "urgent-help.html"
    own.parent.mkdir(parents=True)
    own.write_text('{% include "theme/components/urgent-help.html" %}\n' + NOTE + "\n", "utf-8")
    after = aftercare_html(root)
    assert NOTE in after and NOTE not in before
    assert 'class="urgent-help' in after, "the theme's urgent box is still printed"


def test_a_project_template_replaces_the_themes_file_of_the_same_name(tmp_path):
    root = mini_project(tmp_path / "clinic")
    own = root / "templates" / "components" / "urgent-help.html"
    own.parent.mkdir(parents=True)
    own.write_text('<section class="urgent-help">' + NOTE + "</section>\n", "utf-8")
    after = aftercare_html(root)
    assert NOTE in after and "urgent-phone" not in after


def test_the_repository_and_a_new_project_keep_templates_and_styles_at_the_top(tmp_path):
    for root in (ROOT, tmp_path / "new"):
        if root != ROOT:
            new_project(root)
        for folder in ("templates", "styles"):
            note = (root / folder / "README.md").read_text("utf-8")
            assert "theme" in note and "same" in note, f"{root / folder} explains how its files override the theme"
        assert (root / "leaflets").is_dir()
