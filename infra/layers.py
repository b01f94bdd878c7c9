"""Builds the Lambda layers' folders without Docker: `python -m infra.layers`.

Four layers, all plain folders that CDK zips as assets:

- shared code: `layers/shared` as it is in the repository (python/closedloop -> /opt/python/closedloop);
- dependencies: `pip install` of layers/requirements.txt for the Lambda's Python (3.13) and architecture (arm64),
  cached under .build/ by a hash of the requirements and the target platform, so a re-synth does not reinstall;
- pydantic: layers/requirements-pydantic.txt the same way, less what the dependency layer already ships; only the
  functions the wiring marks `uses_pydantic` (the admin API, for its OpenAPI validation) get it, so the click path
  never carries it;
- content: templates/, config/ and offers/ staged as content/ (-> /opt/content/templates, …/config, …/offers), checked
  on the way (closedloop.content.check_content).

boto3 and botocore are removed from the dependency layer: the runtime ships them, and a second copy would only
add megabytes and cold-start time (aws-xray-sdk pulls botocore in transitively).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from closedloop.content import check_content
from closedloop.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / ".build" / "layers"
REQUIREMENTS = ROOT / "layers" / "requirements.txt"
PYDANTIC_REQUIREMENTS = ROOT / "layers" / "requirements-pydantic.txt"
SHARED = ROOT / "layers" / "shared"
CONTENT_SOURCES = ("templates", "config", "offers")

# The Lambda's interpreter and architecture, not this machine's.
PLATFORM_ARGS = (
    "--platform",
    "manylinux2014_aarch64",
    # Newer binary wheels (css-inline's) are built for glibc 2.24+/2.28+; the python3.13 runtime (Amazon Linux
    # 2023) has glibc 2.34, so these tags fit it too. pip accepts exactly the tags listed, not older ones implied.
    "--platform",
    "manylinux_2_24_aarch64",
    "--platform",
    "manylinux_2_28_aarch64",
    "--only-binary=:all:",
    "--python-version",
    "3.13",
    "--implementation",
    "cp",
)
# Distributions the Lambda runtime provides; never shipped in the layer.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")

# What a layer zip should never carry: caches and bytecode of this machine's Python.
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/.pytest_cache", "**/.DS_Store"]


def requirements_hash() -> str:
    """Cache key of the dependency layer: the requirements and the platform they are built for."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(" ".join(PLATFORM_ARGS + RUNTIME_PROVIDED).encode())
    return digest.hexdigest()


def pydantic_requirements_hash() -> str:
    """Cache key of the pydantic layer: its requirements, and the dependency layer's (whose packages it leaves out)."""
    digest = hashlib.sha256(PYDANTIC_REQUIREMENTS.read_bytes())
    digest.update(requirements_hash().encode())
    return digest.hexdigest()


def _distribution(entry: Path) -> str:
    """ "typing_extensions-4.16.0.dist-info", "typing_extensions.py", "pydantic" -> the import-ish name to compare."""
    return entry.name.split("-")[0].split(".")[0].lower()


def _strip(target: Path) -> None:
    """Remove runtime-provided packages and bytecode caches from an installed `python/` folder."""
    for entry in list(target.iterdir()):
        # "botocore", "botocore-1.44.5.dist-info", "s3transfer" -> the distribution's import name.
        if entry.name.split("-")[0].split(".")[0].lower() in RUNTIME_PROVIDED:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for cache in list(target.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(target / "bin", ignore_errors=True)


def build_dependencies(*, force: bool = False) -> Path:
    """The dependency layer folder (holding python/), rebuilt only when the requirements change."""
    return _build("dependencies", REQUIREMENTS, requirements_hash(), force=force)


def build_pydantic(*, force: bool = False) -> Path:
    """The pydantic layer folder (holding python/): pydantic and what it needs beyond the dependency layer."""
    shipped = {_distribution(entry) for entry in (build_dependencies() / "python").iterdir()}
    return _build("pydantic", PYDANTIC_REQUIREMENTS, pydantic_requirements_hash(), force=force, leave_out=shipped)


def _build(name: str, requirements: Path, key: str, *, force: bool, leave_out: frozenset | set = frozenset()) -> Path:
    """pip-install `requirements` for the Lambda's platform into .build/layers/<name>/python, cached by `key`."""
    layer = BUILD / name
    stamp = BUILD / f"{name}.sha256"
    if not force and layer.is_dir() and stamp.is_file() and stamp.read_text().strip() == key:
        return layer
    staging = BUILD / f"{name}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    target = staging / "python"
    target.mkdir(parents=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            *PLATFORM_ARGS,
            "--target",
            str(target),
            "-r",
            str(requirements),
        ],
        check=True,
    )
    _strip(target)
    for entry in list(target.iterdir()):
        if _distribution(entry) in leave_out:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    shutil.rmtree(layer, ignore_errors=True)
    staging.rename(layer)
    stamp.write_text(key + "\n")
    return layer


class ContentInvalid(Exception):
    """templates/ or config/ would fail a send; the message is the checker's plain sentence."""


def build_content(*, root: Path = ROOT) -> Path:
    """Stage root's templates/ and config/ as content/ for the content layer, and check them (redone every synth).

    The staged copy, exactly what ships, goes through closedloop.content.check_content: a typo in the config or a
    rule naming a template that does not exist raises ContentInvalid, so `cdk synth` stops before the content can
    reach a Lambda. Staged under root's own .build/, so checking a copy elsewhere leaves this repository alone;
    a copy that fails the check is removed, never left where the layer is read from.
    """
    build = root / ".build" / "layers"
    staging = build / "content.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    content = staging / "content"
    content.mkdir(parents=True)
    for name in CONTENT_SOURCES:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, content / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (content / name).mkdir()
    try:
        check_content(content)
    except ConfigError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise ContentInvalid(error.message) from error
    layer = build / "content"
    shutil.rmtree(layer, ignore_errors=True)
    staging.rename(layer)
    return layer


def shared_code() -> Path:
    """The shared code layer is the repository folder itself."""
    return SHARED


def main() -> None:
    try:
        built = (
            ("dependencies", build_dependencies()),
            ("pydantic", build_pydantic()),
            ("content", build_content()),
            ("shared", shared_code()),
        )
    except ContentInvalid as error:
        raise SystemExit(f"content layer: {error}") from None
    for label, path in built:
        print(f"{label:>12}: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
