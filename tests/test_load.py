"""The strict YAML loader: what editors are told, word for word, and what it accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from careleaf.content.load import MAX_FILE_BYTES, LoadError, load


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Messages name files relative to the working folder, so work in tmp_path."""
    monkeypatch.chdir(tmp_path)


def write(name: str, content: str | bytes) -> Path:
    path = Path(name)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def message(name: str, content: str | bytes) -> str:
    path = write(name, content)
    with pytest.raises(LoadError) as caught:
        load(path)
    return str(caught.value)


# --- refused, with a located plain message -------------------------------------------

def test_duplicate_key_names_both_lines():
    assert message("brand.yaml", "name: Clinic\nphone: 1\nname: Other\n") == (
        "brand.yaml:3:1: 'name' appears twice in the same place (lines 1 and 3); keep one of them")


def test_duplicate_key_in_a_nested_block_points_at_the_second_one():
    text = "sections:\n  first:\n    question: Q\n    answer: A\n    question: Again\n"
    assert message("en.yaml", text) == (
        "en.yaml:5:5: 'question' appears twice in the same place (lines 3 and 5); keep one of them")


def test_same_key_in_different_blocks_is_not_a_duplicate():
    doc = load(write("en.yaml", "a:\n  question: Q\nb:\n  question: Q\n"))
    assert doc.data == {"a": {"question": "Q"}, "b": {"question": "Q"}}


def test_tab_indentation():
    assert message("en.yaml", "sections:\n\tfirst: x\n") == (
        "en.yaml:2:1: this line is indented with a tab; YAML needs spaces. Replace the tab with spaces")


def test_tab_after_spaces_in_indentation_is_located_at_the_tab():
    assert message("en.yaml", "sections:\n  \tfirst: x\n") == (
        "en.yaml:2:3: this line is indented with a tab; YAML needs spaces. Replace the tab with spaces")


def test_not_utf8_names_the_byte_and_where_it_is():
    raw = "name: Clinic\nanswer: café\n".encode("latin-1")
    assert message("en.yaml", raw) == (
        "en.yaml:2:12: this file is not saved as UTF-8 text (byte 0xe9 here). "
        "Save it again choosing the encoding 'UTF-8'")


def test_utf16_file_is_not_utf8():
    assert message("en.yaml", "name: Clinic\n".encode("utf-16")) == (
        "en.yaml:1:1: this file is not saved as UTF-8 text (byte 0xff here). "
        "Save it again choosing the encoding 'UTF-8'")


@pytest.mark.parametrize("content", ["", "\n\n  \n", "\ufeff"], ids=["empty", "blank-lines", "bom-only"])
def test_empty_file(content):
    assert message("en.yaml", content) == "en.yaml:1:1: this file is empty; it needs at least one 'key: value' line"


def test_comments_only_file_is_empty():
    assert message("en.yaml", "# wording to come\n  # later\n\n") == (
        "en.yaml:1:1: this file is empty; it needs at least one 'key: value' line")


def test_colon_inside_unquoted_text_points_at_the_colon():
    assert message("en.yaml", "question: Q\nanswer: Note: call us first\n") == (
        "en.yaml:2:13: there is a ':' followed by a space inside unquoted text. "
        "Put the whole text in double quotes, or write it on the next lines after '|'")


@pytest.mark.parametrize("quote", ['"', "'"])
def test_unclosed_quote_is_reported_where_it_opens(quote):
    text = f"name: x\ntitle: {quote}Botulinum toxin: before\nphone: 1\n"
    assert message("en.yaml", text) == "en.yaml:2:8: a quote opened here is never closed. Add the closing quote"


ANCHOR_MESSAGE = ("'&' and '*' have a special meaning in YAML and are not supported here. "
                  "If they are part of your text, put the whole text in quotes")


def test_anchor_refused():
    assert message("en.yaml", "a: &first Text\nb: other\n") == f"en.yaml:1:4: {ANCHOR_MESSAGE}"


def test_alias_refused():
    assert message("en.yaml", "a: Text\nb: *first\n") == f"en.yaml:2:4: {ANCHOR_MESSAGE}"


def test_billion_laughs_is_refused_at_the_first_anchor():
    text = 'a: &a ["lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n'
    assert message("en.yaml", text) == f"en.yaml:1:4: {ANCHOR_MESSAGE}"


def test_ampersand_in_quoted_text_is_fine():
    assert load(write("en.yaml", 'a: "Salt & pepper *twice*"\n')).data == {"a": "Salt & pepper *twice*"}


def test_oversize_file():
    path = write("big.yaml", b"answer: " + b"x" * MAX_FILE_BYTES + b"\n")
    with pytest.raises(LoadError) as caught:
        load(path)
    assert str(caught.value) == (
        "big.yaml:1:1: this file is too large: the limit is 1,000,000 bytes (the setting limits.wording_bytes "
        "in careleaf.yaml). Check that it is the file meant, or raise the limit")


def test_file_exactly_at_the_size_limit_is_read():
    path = write("big.yaml", b"a: " + b"x" * (MAX_FILE_BYTES - 4) + b"\n")
    assert path.stat().st_size == MAX_FILE_BYTES
    assert len(load(path).data["a"]) == MAX_FILE_BYTES - 4


def test_more_than_one_document():
    assert message("en.yaml", "a: b\n---\nc: d\n") == (
        "en.yaml:2:1: this file holds more than one document ('---'); keep one per file")


def test_deep_nesting_is_refused():
    text = "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 20)) + "  " * 20 + "x: y\n"
    assert message("en.yaml", text) == "en.yaml:14:27: this is nested too deeply to be leaflet content"


def test_missing_file():
    with pytest.raises(LoadError) as caught:
        load(Path("nowhere.yaml"))
    assert str(caught.value) == "nowhere.yaml:1:1: cannot read this file: No such file or directory"


@pytest.mark.parametrize("character, named", [
    ("\x0b", "a line break from Word (Shift+Enter)"),
    ("\x00", "an empty (NUL) character"),
    ("\x1b", "an invisible control character (U+001B)"),
], ids=["vertical-tab", "nul", "escape"])
def test_control_character_is_a_located_plain_message(character, named):
    """Word's manual line break is a vertical tab; pasted text can carry one into a file.

    It must be reported like any other input problem (file, line, column), not
    escape as a parser exception that the command line calls an internal error.
    """
    assert message("en.yaml", f"name: Clinic\nanswer: Line one{character}line two\n") == (
        f"en.yaml:2:17: there is {named} here, which cannot be printed. Delete it; if it came with "
        "text copied from another program, retype that part")


def test_hash_after_a_space_in_text_is_refused_rather_than_cutting_the_text():
    assert message("en.yaml", "question: Is it #1? Yes\n") == (
        "en.yaml:1:17: the text stops here, because a '#' after a space starts a note that is not printed. "
        "Put the whole text in double quotes, or move the note to a line of its own")


def test_unquoted_colour_is_refused_rather_than_read_as_empty():
    assert message("brand.yaml", "primary: #0b5563\n") == (
        "brand.yaml:1:10: this value is empty, because a '#' after a space starts a note that is not printed. "
        "If the '#' is part of the value, put the whole value in double quotes, for example \"#0b5563\"")


def test_quoted_hash_is_text():
    assert load(write("brand.yaml", 'primary: "#0b5563"\nquestion: "Is it #1?"\n')).data == {
        "primary": "#0b5563", "question": "Is it #1?"}


def test_no_space_after_a_colon():
    assert message("en.yaml", "question:What is it?\nanswer: A\n") == (
        "en.yaml:1:10: put a space after the ':' of 'question'")


def test_tag_is_refused_rather_than_dropping_the_word():
    assert message("en.yaml", "answer: !important\n") == (
        "en.yaml:1:9: a value cannot start with '!'; put the whole text in quotes")


# --- every value stays text ----------------------------------------------------------

def test_yaml_11_booleans_times_and_octals_stay_text():
    text = ("a: yes\nb: no\nc: on\nd: off\ne: 10:30\nf: 012\ng: true\nh: 1e3\ni: 0x1F\nj: .inf\n"
            "k: 4.50\nl: Yes\nm: NO\n")
    assert load(write("en.yaml", text)).data == {
        "a": "yes", "b": "no", "c": "on", "d": "off", "e": "10:30", "f": "012", "g": "true", "h": "1e3",
        "i": "0x1F", "j": ".inf", "k": "4.50", "l": "Yes", "m": "NO"}


def test_keys_stay_text():
    assert load(write("en.yaml", "no: a\n1: b\n")).data == {"no": "a", "1": "b"}


def test_blank_tilde_and_null_mean_no_value_but_quoted_ones_are_text():
    data = load(write("en.yaml", 'a:\nb: ~\nc: null\nd: "null"\ne: ""\n')).data
    assert data == {"a": None, "b": None, "c": None, "d": "null", "e": ""}


def test_lists_and_nested_blocks():
    data = load(write("en.yaml", "a:\n  - x\n  - 2\nb:\n  c: d\n")).data
    assert data == {"a": ["x", "2"], "b": {"c": "d"}}


def test_positions_are_remembered_for_keys_and_values():
    doc = load(write("en.yaml", "name: Clinic\nsections:\n  first:\n    answer: Text\n"))
    assert doc.key_at[("sections", "first", "answer")] == (4, 5)
    assert doc.value_at[("sections", "first", "answer")] == (4, 13)
    assert str(doc.problem(("sections", "first", "answer"), "x")) == "en.yaml:4:13: x"
    assert str(doc.problem(("sections", "first", "answer"), "x", at_key=True)) == "en.yaml:4:5: x"
    # A place that does not exist falls back to the nearest parent that does.
    assert str(doc.problem(("sections", "first", "question"), "x")) == "en.yaml:4:5: x"


# --- word-processor habits that are accepted ----------------------------------------

def test_byte_order_mark_accepted_and_columns_unchanged():
    doc = load(write("en.yaml", "\ufeffname: Clinic\nphone: 1\n"))
    assert doc.data == {"name": "Clinic", "phone": "1"}
    assert doc.value_at[("name",)] == (1, 7)


def test_byte_order_mark_does_not_shift_error_positions():
    assert message("en.yaml", "\ufeffanswer: Note: call us\n").startswith("en.yaml:1:13: there is a ':'")


def test_windows_line_endings_accepted():
    doc = load(write("en.yaml", "name: Clinic\r\naddress:\r\n  - 1 Street\r\n  - London\r\n"))
    assert doc.data == {"name": "Clinic", "address": ["1 Street", "London"]}


def test_windows_line_endings_keep_line_numbers():
    assert message("en.yaml", "name: a\r\nphone: b\r\nname: c\r\n") == (
        "en.yaml:3:1: 'name' appears twice in the same place (lines 1 and 3); keep one of them")


def test_windows_line_endings_inside_a_block_answer():
    doc = load(write("en.yaml", "answer: |\r\n  One.\r\n\r\n  Two.\r\n"))
    assert doc.data == {"answer": "One.\n\nTwo.\n"}


def test_non_breaking_space_after_a_colon_accepted():
    doc = load(write("en.yaml", "name:\u00a0Clinic\nphone:\u00a0020 7946 0000\n"))
    assert doc.data == {"name": "Clinic", "phone": "020 7946 0000"}


def test_non_breaking_spaces_in_indentation_accepted():
    doc = load(write("en.yaml", "colours:\n\u00a0\u00a0primary: x\n\u00a0 tint: y\naddress:\n  -\u00a0Street\n"))
    assert doc.data == {"colours": {"primary": "x", "tint": "y"}, "address": ["Street"]}


def test_non_breaking_space_inside_text_is_kept():
    assert load(write("en.yaml", "phone: 020\u00a07946\n")).data == {"phone": "020\u00a07946"}
