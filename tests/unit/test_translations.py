"""Every pt+en word table under web/js is complete in both languages and says the same things.

A table is a module export shaped ``{pt: {key: text}, en: {key: text}}``
(i18n.js's ``translator(table)`` takes one). The modules are imported by Node,
as the browser would import them, so a table built from parts is read as built.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from pathlib import Path


WEB_JS = Path(__file__).resolve().parents[2] / "web" / "js"
TIMEOUT = 30

# Imports each module and prints every export shaped {pt: {...}, en: {...}}. Text modules touch no DOM; the
# browser language some read at import time is all they need of the browser.
LOAD_TABLES = """
globalThis.navigator ??= {language: 'en', languages: ['en']};
const tables = {};
for (const file of JSON.parse(process.argv[1])) {
  const module = await import(file);
  for (const [name, value] of Object.entries(module)) {
    if (value && typeof value === 'object' && !Array.isArray(value)
        && Object.keys(value).sort().join() === 'en,pt'
        && typeof value.pt === 'object' && typeof value.en === 'object') {
      tables[`${file.split('/web/js/')[1]}:${name}`] = value;
    }
  }
}
process.stdout.write(JSON.stringify(tables));
"""
TABLE_SOURCE = re.compile(r"^\s*pt\s*:\s*\{", re.MULTILINE)
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# The same in both languages because they are names, not words to translate: the product, each language's
# own name (written in itself so a person finds theirs), and the unit "min".
NAMES = {"telepractice", "português", "english", "min"}


def table_files() -> list[Path]:
    """The modules under web/js that hold a pt table (and so should hold an en one)."""
    return sorted(path for path in WEB_JS.rglob("*.js") if TABLE_SOURCE.search(path.read_text(encoding="utf-8")))


@functools.cache
def load_tables() -> dict[str, dict[str, dict[str, str]]]:
    """Every word table of the web app, by "file:export", as Node imports it."""
    node = shutil.which("node")
    assert node is not None, "node is not installed: bash .ci/install installs it (apt-get install nodejs)"
    files = [str(path) for path in table_files()]
    result = subprocess.run([node, "--input-type=module", "-e", LOAD_TABLES, json.dumps(files)],
                            capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def english_only_texts() -> set[str]:
    """Every English text that differs from its Portuguese one: none of these may show on a Portuguese page."""
    return {text for table in load_tables().values() for key, text in table["en"].items()
            if text != table["pt"].get(key)}


def test_every_module_with_a_word_table_exports_one_in_both_languages() -> None:
    tables = load_tables()
    files = {key.split(":")[0] for key in tables}
    assert files == {str(path.relative_to(WEB_JS)) for path in table_files()}
    assert "call-text.js" in files


def test_both_languages_have_the_same_words() -> None:
    problems = [f"{name}: {key!r} only in {language}"
                for name, table in load_tables().items()
                for language, other in (("pt", "en"), ("en", "pt"))
                for key in sorted(set(table[language]) - set(table[other]))]
    assert problems == []


def test_no_text_is_empty_or_not_text() -> None:
    problems = [f"{name}: {language}.{key} is {text!r}"
                for name, table in load_tables().items() for language in ("pt", "en")
                for key, text in table[language].items()
                if not isinstance(text, str) or not text.strip()]
    assert problems == []


def test_both_languages_fill_in_the_same_placeholders() -> None:
    problems = [f"{name}: {key!r} has {sorted(PLACEHOLDER.findall(text))} in pt "
                f"but {sorted(PLACEHOLDER.findall(table['en'][key]))} in en"
                for name, table in load_tables().items() for key, text in table["pt"].items()
                if key in table["en"] and isinstance(text, str)
                and sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(table["en"][key]))]
    assert problems == []


def is_name_or_number(text: str) -> bool:
    words = re.findall(r"[^\W\d_]+", PLACEHOLDER.sub("", text))
    return all(word.lower() in NAMES for word in words)


def test_no_portuguese_text_is_left_in_english() -> None:
    problems = [f"{name}: {key!r} is {text!r} in both"
                for name, table in load_tables().items() for key, text in table["pt"].items()
                if text == table["en"].get(key) and not is_name_or_number(text)]
    assert problems == []


def test_a_name_or_a_number_may_be_the_same_in_both_but_a_word_may_not() -> None:
    assert is_name_or_number("{start}–{end}") and is_name_or_number("telepractice") and is_name_or_number("123 456")
    assert is_name_or_number("{minutes} min") and is_name_or_number("Português")
    assert not is_name_or_number("Email") and not is_name_or_number("{name} (child)")
