"""Finding a server by name, with the same rules as the Deno side: the
directory ``$XDG_RUNTIME_DIR/socketbridge`` (or ``$TMPDIR/socketbridge-UID``)
must be a 0700 directory owned by this user, ``NAME.json`` a 0600 regular
file owned by this user, neither a symlink; a file whose ``NAME.lock`` no
live server holds is stale."""

from __future__ import annotations

import fcntl
import json
import os
import re
import stat
from typing import Any, Dict

from ._errors import ConnectError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def discovery_dir() -> str:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "socketbridge")
    return os.path.join(os.environ.get("TMPDIR") or "/tmp", f"socketbridge-{os.getuid()}")


def _check_owned(path: str, directory: bool) -> None:
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise PermissionError(f"refusing {path}: it is a symlink")
    if directory and not stat.S_ISDIR(info.st_mode):
        raise PermissionError(f"refusing {path}: not a directory")
    if not directory and not stat.S_ISREG(info.st_mode):
        raise PermissionError(f"refusing {path}: not a file")
    if info.st_uid != os.getuid():
        raise PermissionError(f"refusing {path}: owned by uid {info.st_uid}, not by this user")
    if info.st_mode & 0o077:
        mode = oct(info.st_mode & 0o777)[2:]
        raise PermissionError(f"refusing {path}: mode {mode} lets others in")


def _held(lock_path: str) -> bool:
    """Whether a live server holds the name's lock (it may be this process)."""
    try:
        fd = os.open(lock_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def resolve_name(name: str) -> Dict[str, Any]:
    """Where the server published as ``name`` listens, and its token.

    Raises ConnectError when no live server of this user has that name.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"invalid server name {name!r}: use 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    directory = discovery_dir()
    path = os.path.join(directory, f"{name}.json")
    try:
        _check_owned(directory, True)
        _check_owned(path, False)
    except FileNotFoundError:
        raise ConnectError(
            name, f'cannot connect to "{name}": no server of that name is running for this user'
        ) from None
    with open(path, encoding="utf-8") as file:
        record = json.load(file)
    if not isinstance(record, dict) or record.get("name") != name:
        raise ConnectError(name, f"discovery file {path} does not describe a server")
    if not _held(os.path.join(directory, f"{name}.lock")):
        raise ConnectError(
            name,
            f'cannot connect to "{name}": its discovery file is stale '
            f"(process {record.get('pid')} no longer serves it)",
        )
    return record
