"""What a phone or an operator types (a tip's text, category and photo reference, an item's or a volunteer's name)
reaches the console's DOM as text only: no web_console script parses HTML from a string, a link is made only for an
http(s) address, and the page's Content-Security-Policy runs no inline script, so a ``javascript:`` reference is
never a script. Static: reads the files, no browser."""

from __future__ import annotations

import re
from pathlib import Path

from actors.gateway_http import CSP

WEB = Path(__file__).resolve().parents[2] / "web_console"
SCRIPTS = sorted(WEB.glob("*.js"))
HTML_SINKS = re.compile(r"\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function\s*\("
                        r"|createContextualFragment|DOMParser|set(Timeout|Interval)\s*\(\s*[\"'`]")
LINKS = re.compile(r"\bhref\b|[{,.]\s*src\s*[:=]|formAction|setAttribute\(\s*[\"'](href|src|formaction|xlink:href)")


def test_no_console_script_turns_a_string_into_html_or_code():
    assert SCRIPTS, WEB
    hits = [f"{path.name}:{n}: {line.strip()}" for path in SCRIPTS
            for n, line in enumerate(path.read_text().splitlines(), start=1) if HTML_SINKS.search(line)]
    assert hits == []


def test_a_link_is_made_only_for_a_web_address_so_a_javascript_photo_reference_stays_text():
    links = [(path, n) for path in SCRIPTS for n, line in enumerate(path.read_text().splitlines(), start=1)
             if LINKS.search(line)]
    assert [p.name for p, _ in links] == ["tips.js"]  # the one link: a tip's photo reference
    for path, n in links:
        before = "\n".join(path.read_text().splitlines()[max(0, n - 4):n])
        assert re.search(r"/\^https\?:\\/\\//i\.test\(", before), f"{path.name}:{n}: a link without an http(s) check"


def test_the_page_runs_only_its_own_scripts():
    policy = dict(part.strip().split(" ", 1) for part in CSP.split(";"))
    script_src = policy.get("script-src", policy["default-src"])
    assert script_src.strip() == "'self'"  # no inline script, no javascript: URL, no eval
    assert "unsafe" not in CSP
