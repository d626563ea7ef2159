"""An approval covers exactly the wording it approved.

In a copy of the sample with every leaflet approved (``approved_project``), changing
one sentence makes exactly the leaflets that print it *awaiting re-approval*: on
paper, in `check`, in `build`'s list of drafts; a patient's copy is refused by the
command line, the desk and the API; `careleaf approve` shows what changed, word by
word, and makes them printable again under a raised version.
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import pytest

from careleaf.content.catalog import load_catalog
from careleaf.errors import HandoutError
from careleaf.handout.handouts import Choice, handout
from careleaf.leaflet.assemble import assemble, jobs
from careleaf.project import Project
from careleaf.review import check
from careleaf.review.approve import approve
from careleaf.web.app import create_app
from conftest import approved_project, replace_in, run_cli

with warnings.catch_warnings():     # Starlette's TestClient warns that it prefers httpx2; httpx is what we have
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

FACIAL = "leaflets/treatments/botox-facial-lines"
ONE_SENTENCE = ("It usually goes within **24-48 hours**.", "It usually goes within **a month**.")   # aftercare only
TODAY = dt.date(2026, 6, 1)
NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.timezone.utc)
PATIENT = {"treated": "2026-06-01 08:30"}
AFTERCARE_EN = Choice("harbour-skin", "botox-facial-lines", "aftercare", "en")


def states(root: Path) -> dict[tuple[str, str], str | None]:
    """(kind, lang) → why it is not approved (None: approved), for the catalog as it is now."""
    catalog = load_catalog(Project(root))
    return {(job.kind, job.lang): assemble(catalog, job, TODAY).not_approved for job in jobs(catalog, large_print=False)}


@pytest.fixture
def changed(tmp_path) -> Path:
    """The approved sample, with one English sentence of the aftercare leaflet changed afterwards."""
    root = approved_project(tmp_path / "project")
    assert set(states(root).values()) == {None}
    replace_in(root / FACIAL / "en.yaml", *ONE_SENTENCE)
    return root


def test_changing_one_sentence_makes_exactly_the_leaflets_printing_it_await_reapproval(changed):
    found = states(changed)
    assert found.pop(("aftercare", "en")).startswith("awaiting re-approval: its wording changed after Dr Test Person "
                                                     "approved it on 2026-01-05")
    assert set(found.values()) == {None}, "the Turkish and pre-treatment leaflets do not print that sentence"


def test_check_and_build_list_it_with_what_changed(changed):
    report = check.run(Project(changed), TODAY)
    awaiting = [f for f in report.findings if f.code == "awaiting-reapproval"]
    assert len(awaiting) == 1
    finding = awaiting[0]
    assert finding.file.endswith(f"{FACIAL}/treatment.yaml") and finding.line > 1
    line = (changed / FACIAL / "en.yaml").read_text("utf-8").splitlines().index("  what-is-normal-afterwards:") + 1
    assert "BTX-FL-AC (botox-facial-lines aftercare) in en is printed as a DRAFT" in finding.message
    assert f"{FACIAL}/en.yaml:{line} sections/what-is-normal-afterwards" in finding.message
    assert "careleaf approve BTX-FL-AC --lang en" in finding.message

    built = run_cli("build", "--out", "out", "--no-large-print", "--quiet", cwd=changed)
    assert built.returncode == 0, built.stderr
    assert "BTX-FL-AC (en: awaiting re-approval)" in built.stdout
    assert "BTX-FL-PT" not in built.stdout.split("Drafts")[-1]


def test_a_patients_copy_is_refused_with_one_plain_reason(changed, monkeypatch):
    with pytest.raises(HandoutError) as refused:
        handout(changed, AFTERCARE_EN, patient=PATIENT, now=NOW)
    assert "cannot be given to a patient: it is awaiting re-approval: its wording changed after Dr Test Person " \
           "approved it on 2026-01-05" in str(refused.value)

    cli = run_cli("handout", "--brand", "harbour-skin", "--treatment", "botox-facial-lines", "--kind", "aftercare",
                  "--lang", "en", "--treated", "2026-06-01 08:30", "--out", "x.pdf", cwd=changed,
                  env={"CARELEAF_TODAY": "2026-06-01"})
    assert cli.returncode == 2 and "awaiting re-approval" in cli.stderr and not (changed / "x.pdf").exists()

    monkeypatch.setenv("CARELEAF_API_TOKENS", "token-for-approval-tests")
    with TestClient(create_app(Project(changed))) as client:
        listed = client.get("/api/leaflets", headers={"Authorization": "Bearer token-for-approval-tests"}).json()
        mine = [x for x in listed if (x["kind"], x["lang"]) == ("aftercare", "en")]
        assert mine and all(x["state"] == "not for patients" for x in mine)
        assert any("awaiting re-approval" in reason for x in mine for reason in x["reasons"])
        desk = client.get("/", params={"brand": "harbour-skin", "treatment": "botox-facial-lines",
                                       "kind": "aftercare", "lang": "en"})
        assert "Not for patients." in desk.text and "awaiting re-approval" in desk.text


def test_approve_shows_the_changed_words_raises_the_version_and_makes_it_printable(changed):
    path = changed / FACIAL / "treatment.yaml"
    before = path.read_text("utf-8").splitlines()
    shown = run_cli("approve", "BTX-FL-AC", "--lang", "en", "--show", cwd=changed)
    assert shown.returncode == 0, shown.stderr
    assert "Last approved: version 1, by Dr Test Person on 2026-01-05." in shown.stdout
    assert "within **[-24-48 hours-]{+a month+}**" in shown.stdout
    assert path.read_text("utf-8").splitlines() == before, "--show approves nothing"

    approved = run_cli("approve", "BTX-FL-AC", "--lang", "en", "--by", "Dr New Signer", cwd=changed,
                       env={"CARELEAF_TODAY": "2026-06-01"})
    assert approved.returncode == 0, approved.stderr
    assert "Approved BTX-FL-AC version 2 in en by Dr New Signer." in approved.stdout
    after = path.read_text("utf-8").splitlines()
    changed_lines = [(old, new) for old, new in zip(before, after) if old != new]
    assert len(after) == len(before), "the English line replaces the old one; nothing else moves"
    assert [new.strip().split(":")[0] for _, new in changed_lines] == ["version", "en"]
    assert "version: 2" in changed_lines[0][1] and '{by: "Dr New Signer", on: 2026-06-01, version: 2' in \
        changed_lines[1][1]
    assert set(states(changed).values()) == {None}
    assert handout(changed, AFTERCARE_EN, patient=PATIENT, now=NOW).record.version == 2


def test_a_version_raised_by_hand_is_not_raised_again(changed):
    replace_in(changed / FACIAL / "treatment.yaml", "code: BTX-FL-AC\n    version: 1", "code: BTX-FL-AC\n    version: 5")
    _, version = approve(Project(changed), "BTX-FL-AC", by="Dr New Signer", lang="en", today=TODAY)
    assert version == 5


def test_approve_refuses_wording_still_marked_for_approval_naming_its_line(changed):
    question = "    question: What is normal after my treatment?\n"
    replace_in(changed / FACIAL / "en.yaml", question, question + "    needs_approval: true\n")
    result = run_cli("approve", "BTX-FL-AC", "--lang", "en", "--by", "Dr New Signer", cwd=changed)
    assert result.returncode == 2
    assert f"{FACIAL}/en.yaml:" in result.stderr and "still marked needs_approval: true" in result.stderr
    assert "approvals" not in result.stdout
    assert states(changed)[("aftercare", "en")].startswith("awaiting re-approval")


def test_approving_needs_a_name():
    with pytest.raises(HandoutError, match="--by"):
        approve(Project(Path("/nonexistent")), "BTX-FL-AC", by="  ")
