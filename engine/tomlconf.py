"""Loading TOML configuration into typed Structs with errors that name the file, line and field."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from engine.errors import ConfigError

T = TypeVar("T")

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_LINE_OF_TOMLLIB = re.compile(r"\(at line (\d+), column \d+\)")


def parse_toml(text: str, *, file: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _LINE_OF_TOMLLIB.search(str(exc))
        reason = _LINE_OF_TOMLLIB.sub("", str(exc)).strip()
        raise ConfigError(file, int(match.group(1)) if match else None, "", f"invalid TOML: {reason}") from exc


def read_text(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), None, "", f"cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), None, "", "not UTF-8 text") from exc


def convert(data: dict[str, Any], type_: type[T], *, file: str, text: str | None) -> T:
    """``msgspec.convert`` with msgspec's ``$.sites[3].kind`` turned into ``file:line: sites[3].kind: ...``."""
    try:
        return msgspec.convert(data, type_, str_keys=True)
    except msgspec.ValidationError as exc:
        raw = str(exc)
        marker = " - at `key` in `$" if " - at `key` in `$" in raw else " - at `$"  # a bad dict key, or a value
        message, _, at = raw.partition(marker)
        path_text = at.rstrip("`")
        path = parse_path(path_text)
        missing = re.match(r"Object missing required field `([^`]+)`", message)
        unknown = re.match(r"Object contains unknown field `([^`]+)`", message)
        if missing:
            path = path + (missing.group(1),)
            reason = "required field missing"
        elif unknown:
            path = path + (unknown.group(1),)
            reason = "unknown field"
        else:
            reason = message.replace("`", "")
            reason = reason[:1].lower() + reason[1:]
        raise error_at(file, text, path, reason) from exc


def parse_path(text: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for name, index, quoted in re.findall(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]|\[\"?([^\]\"]+)\"?\]", text):
        if name:
            parts.append(name)
        elif index:
            parts.append(int(index))
        else:
            parts.append(quoted)
    return tuple(parts)


def format_path(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "." in part:
            out += f'."{part}"' if out else f'"{part}"'
        else:
            out += f".{part}" if out else part
    return out


def error_at(file: str, text: str | None, path: tuple[str | int, ...], reason: str) -> ConfigError:
    return ConfigError(file, locate_line(text, path) if text else None, format_path(path), reason)


def locate_line(text: str, path: tuple[str | int, ...]) -> int | None:
    """Best-effort line of ``path`` in TOML ``text``: the key's line, else its table's header line."""
    lines = text.splitlines()
    headers: list[tuple[int, str, bool, int]] = []  # line number, dotted name, is array, occurrence
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        match = _HEADER.match(line)
        if match:
            name = _normalise(match.group(2))
            is_array = match.group(1) == "[["
            occurrence = seen.get(name, 0)
            if is_array:
                seen[name] = occurrence + 1
            headers.append((number, name, is_array, occurrence))
    for cut in range(len(path), 0, -1):
        prefix, rest = path[:cut], path[cut:]
        start = _find_header(headers, prefix)
        if start is None:
            continue
        key = next((p for p in rest if isinstance(p, str)), None)
        return _find_key(lines, start, key) if key else start
    key = next((p for p in path if isinstance(p, str)), None)
    return _find_key(lines, 0, key) if key else None


def _normalise(name: str) -> str:
    return ".".join(part.strip().strip('"').strip("'") for part in re.split(r"\.(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", name))


def _find_header(headers, prefix) -> int | None:
    if isinstance(prefix[-1], int):
        if not all(isinstance(p, str) for p in prefix[:-1]):
            return None
        name = ".".join(prefix[:-1])  # type: ignore[arg-type]
        for number, header, is_array, occurrence in headers:
            if is_array and header == name and occurrence == prefix[-1]:
                return number
        return None
    if not all(isinstance(p, str) for p in prefix):
        return None
    name = ".".join(prefix)  # type: ignore[arg-type]
    for number, header, is_array, _ in headers:
        if not is_array and header == name:
            return number
    return None


def _find_key(lines: list[str], start: int, key: str) -> int | None:
    pattern = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\")\s*=")
    for number in range(start + 1, len(lines) + 1):
        line = lines[number - 1]
        if _HEADER.match(line):
            break
        if pattern.match(line):
            return number
    return start or None
