"""Topic patterns in the NATS subject syntax: dot-separated tokens; ``*``
matches exactly one token, ``>`` (last token only) one or more."""

from __future__ import annotations


def check_pattern(pattern: object) -> str:
    if not isinstance(pattern, str) or pattern == "":
        raise ValueError("a topic pattern must be a non-empty string")
    tokens = pattern.split(".")
    for index, token in enumerate(tokens):
        if token == "" or (token == ">" and index != len(tokens) - 1):
            raise ValueError(f"bad topic pattern {pattern!r}")
    return pattern


def matches(pattern: str, topic: str) -> bool:
    want = pattern.split(".")
    have = topic.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(have) > index
        if index >= len(have) or (token != "*" and token != have[index]):
            return False
    return len(want) == len(have)
