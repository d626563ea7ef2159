"""Rebuild only what changed, on every core: fingerprints, shards, workers."""

from __future__ import annotations

import json
import subprocess
import sys

from careleaf.leaflet.assemble import jobs
from careleaf.build.run import build, in_shard, pages
from careleaf.project import Project
from careleaf.content.catalog import load_catalog
from conftest import ROOT, files_state, mini_project, replace_in


def test_editing_one_shared_answer_rebuilds_exactly_the_leaflets_that_print_it(tmp_path):
    root = mini_project(tmp_path / "project")
    out = tmp_path / "out"
    build(Project(root), out, large_print=False)
    catalog = load_catalog(Project(root))
    shared = next(iter(catalog.shared["en"][0].sections))
    reaching = {f"{p.job.output}" for p in pages(Project(root), catalog, large_print=False)
                if f"shared/{shared}" in p.leaflet.definition.contents}
    assert reaching, "the fixture should print its shared section somewhere"
    wording = root / "leaflets/shared/en.yaml"
    answer = catalog.shared["en"][0].sections[shared].answer.splitlines()[0]
    replace_in(wording, answer, answer + " Edited.")
    summary = build(Project(root), out, large_print=False)
    assert set(summary.built) == reaching
    assert set(summary.unchanged) == {f"{p.job.output}" for p in pages(Project(root), load_catalog(Project(root)),
                                                                         large_print=False)} - reaching


def test_a_build_with_nothing_to_do_never_loads_the_renderer(sample, tmp_path):
    root, out = sample.copy_to(tmp_path)
    probe = ("import sys; from careleaf.cli.main import main; code = main(['--project', '.', 'build', '--out', 'out', "
             "'--no-large-print', '--quiet']); print('weasyprint' in sys.modules, code)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, timeout=120)
    assert result.stdout.split()[-2:] == ["False", "0"], result.stdout + result.stderr
    assert "0 built" in result.stdout


def test_output_is_the_same_whatever_the_number_of_workers(mini, tmp_path):
    root = mini_project(tmp_path / "project")
    build(Project(root), tmp_path / "one", jobs=1)
    build(Project(root), tmp_path / "two", jobs=2)
    one, two = files_state(tmp_path / "one"), files_state(tmp_path / "two")
    assert {name: state[0] for name, state in one.items()} == {name: state[0] for name, state in two.items()}
    assert len(one) == 4


def test_shards_split_the_catalog_into_stable_disjoint_parts(sample):
    everything = jobs(sample.catalog)
    shares = [[job for job in everything if in_shard(job, index, 3)] for index in (1, 2, 3)]
    assert sorted(job for share in shares for job in share) == sorted(everything)
    assert all(share for share in shares)
    again = [[job for job in everything if in_shard(job, index, 3)] for index in (1, 2, 3)]
    assert shares == again


def test_shard_builds_add_up_to_the_whole_catalog(tmp_path):
    root = mini_project(tmp_path / "project")
    whole = {p.job.output.as_posix() for p in pages(Project(root), load_catalog(Project(root)))}
    built = set()
    for index in (1, 2):
        summary = build(Project(root), tmp_path / f"shard{index}", shard=(index, 2))
        assert not built & set(summary.built)
        built |= set(summary.built)
    assert built == whole


def test_the_manifest_records_a_fingerprint_for_every_pdf(sample):
    manifest = json.loads((sample.out / ".careleaf-manifest.json").read_text("utf-8"))
    assert set(manifest) == {str(p.relative_to(sample.out)) for p in sample.out.rglob("*.pdf")}
    assert all(len(value) == 64 for value in manifest.values())


def test_the_readme_shows_the_two_set_up_commands_first():
    readme = (ROOT / "README.md").read_text("utf-8")
    first_block = readme[readme.index("```"):readme.index("```", readme.index("```") + 3)]
    assert "make leaflets" in first_block and "make test" in first_block
    assert "make test" in (ROOT / ".ci/run").read_text("utf-8")

