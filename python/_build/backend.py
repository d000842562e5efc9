"""A PEP 517 build backend in the standard library alone: builds the wheel
(and the sdist) of socketbridge-client from this folder, so that
``pip install ./python`` works with no package index reachable."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import zipfile

NAME = "socketbridge_client"
DIST = "socketbridge_client"
VERSION = "0.1.0"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAG = "py3-none-any"


def _metadata() -> str:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as file:
        readme = file.read()
    return (
        "Metadata-Version: 2.1\n"
        "Name: socketbridge-client\n"
        f"Version: {VERSION}\n"
        "Summary: A client for SocketBridge servers, standard library only\n"
        "License: MIT\n"
        "Requires-Python: >=3.9\n"
        "Classifier: Typing :: Typed\n"
        "Description-Content-Type: text/markdown\n\n" + readme
    )


def _package_files():
    base = os.path.join(ROOT, NAME)
    for entry in sorted(os.listdir(base)):
        if entry.endswith(".py") or entry == "py.typed":
            yield f"{NAME}/{entry}", os.path.join(base, entry)


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    info = os.path.join(metadata_directory, f"{DIST}-{VERSION}.dist-info")
    os.makedirs(info, exist_ok=True)
    with open(os.path.join(info, "METADATA"), "w", encoding="utf-8") as file:
        file.write(_metadata())
    return os.path.basename(info)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    filename = f"{DIST}-{VERSION}-{TAG}.whl"
    info = f"{DIST}-{VERSION}.dist-info"
    records = []
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as wheel:
        for archived, path in _package_files():
            with open(path, "rb") as file:
                data = file.read()
            wheel.writestr(archived, data)
            records.append(_record_line(archived, data))
        extra = {
            f"{info}/METADATA": _metadata().encode(),
            f"{info}/WHEEL": (
                "Wheel-Version: 1.0\nGenerator: socketbridge-backend\n"
                f"Root-Is-Purelib: true\nTag: {TAG}\n"
            ).encode(),
        }
        for archived, data in extra.items():
            wheel.writestr(archived, data)
            records.append(_record_line(archived, data))
        records.append(f"{info}/RECORD,,")
        wheel.writestr(f"{info}/RECORD", "\n".join(records) + "\n")
    return filename


def build_sdist(sdist_directory, config_settings=None):
    base = f"{DIST}-{VERSION}"
    filename = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as sdist:
        for relative in ["pyproject.toml", "README.md", "_build/backend.py"]:
            sdist.add(os.path.join(ROOT, relative), f"{base}/{relative}")
        for archived, path in _package_files():
            sdist.add(path, f"{base}/{archived}")
        data = _metadata().encode()
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        info.size = len(data)
        sdist.addfile(info, io.BytesIO(data))
    return filename
