"""The editor's checks run off the desk's path: while `check` reads a huge file for the editor's page, the desk
goes on answering, because check runs in a process of its own with a time limit (web/editor_pages.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from conftest import approved_project
from webserver import WebServer, children

DIGITS = 900_000        # one answer of 900 kB of digits (under the 1 MB file limit): check reads it for seconds
DESK_ANSWERS_WITHIN = 2.0


def check_processes(pid: int) -> list[int]:
    """The server's `python -m careleaf.review` processes (the editor's check)."""
    found = []
    for child in children(pid):
        try:
            if b"careleaf.review" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except OSError:
            continue
    return found


def test_the_desk_answers_while_the_editor_checks_a_huge_file(tmp_path):
    root = approved_project(tmp_path / "project")
    wording = root / "leaflets/treatments/botox-facial-lines/en.yaml"
    text = wording.read_text("utf-8")
    block = text.index("    answer: |\n") + len("    answer: |\n")     # a valid file: the first paragraph of an answer
    wording.write_text(text[:block] + "      " + "1" * DIGITS + "\n\n" + text[block:], "utf-8")
    editor: dict[str, httpx.Response] = {}
    with WebServer(root) as server, httpx.Client(base_url=server.url, timeout=180) as web:
        assert web.get("/").status_code == 200      # the desk as it is all day: its catalog read, its page made
        def open_editor():
            editor["page"] = web.get("/editor")

        opening = threading.Thread(target=open_editor, daemon=True)
        opening.start()
        deadline = time.monotonic() + 120
        while not check_processes(server.pid) and "page" not in editor and time.monotonic() < deadline:
            time.sleep(0.05)
        assert check_processes(server.pid), "the editor's check ran in a process of its own, and was still running"
        waits = []
        while check_processes(server.pid) and len(waits) < 5:
            began = time.monotonic()
            desk = web.get("/", timeout=DESK_ANSWERS_WITHIN * 5)
            waits.append(time.monotonic() - began)
            assert desk.status_code == 200
        opening.join(180)
    print("the desk answered in", [f"{w:.2f} s" for w in waits])
    assert waits and max(waits) < DESK_ANSWERS_WITHIN, waits
    assert "page" in editor, "the editor answered"
    assert editor["page"].status_code == 200 and "What check found" in editor["page"].text, editor["page"].text[-2000:]
