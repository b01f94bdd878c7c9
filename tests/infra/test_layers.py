"""The layers: dependency pins in step with pyproject, no runtime-provided SDK, content and shared code in place."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from infra import layers

ROOT = Path(__file__).resolve().parents[2]


def _requirements(lines: list[str]) -> dict[str, str]:
    """{normalized name: full requirement} of pinned requirement lines."""
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            name = re.split(r"[\[=<>~! ]", line, maxsplit=1)[0]
            pins[re.sub(r"[-_.]+", "-", name).lower()] = line.replace(" ", "")
    return pins


@pytest.fixture(scope="module")
def dependency_layer() -> Path:
    return layers.build_dependencies() / "python"


def test_layer_requirements_pin_exactly_what_pyproject_declares():
    # Given the project's runtime dependencies and the layer's requirements
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    layer = layers.REQUIREMENTS.read_text().splitlines()

    # Then both name the same packages at the same versions
    assert _requirements(layer) == _requirements(project)


def test_every_layer_requirement_is_pinned_to_one_version():
    for requirement in _requirements(layers.REQUIREMENTS.read_text().splitlines()).values():
        assert "==" in requirement, requirement


def test_dependency_layer_leaves_boto3_and_botocore_to_the_runtime(dependency_layer: Path):
    shipped = {entry.name.split("-")[0].lower() for entry in dependency_layer.iterdir()}
    assert not shipped & {"boto3", "botocore", "s3transfer"}


def test_dependency_layer_is_built_for_python313_on_arm64(dependency_layer: Path):
    # pydantic-free powertools has no binary wheels; markupsafe's speedups do, and must be the aarch64 cp313 build
    binaries = [path.name for path in dependency_layer.rglob("*.so")]
    assert binaries, "expected at least one compiled extension (markupsafe)"
    assert all("cpython-313-aarch64" in name or "abi3" in name for name in binaries), binaries


def test_dependency_layer_carries_the_pinned_packages(dependency_layer: Path):
    for package in ("aws_lambda_powertools", "pynamodb", "jinja2", "tzdata", "aws_xray_sdk"):
        assert (dependency_layer / package).is_dir(), package
    assert not list(dependency_layer.rglob("__pycache__"))


def test_dependency_layer_is_reused_while_requirements_are_unchanged(dependency_layer: Path):
    marker = dependency_layer / "jinja2" / "__init__.py"
    before = marker.stat().st_mtime_ns
    layers.build_dependencies()
    assert marker.stat().st_mtime_ns == before


def test_content_layer_lands_templates_and_config_under_content():
    staged = layers.build_content() / "content"
    assert {path.name for path in staged.iterdir()} == {"templates", "config"}
    for name in ("templates", "config"):
        source = ROOT / name
        expected = {p.relative_to(source) for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
        assert {p.relative_to(staged / name) for p in (staged / name).rglob("*") if p.is_file()} == expected


def test_shared_layer_ships_the_closedloop_package_under_python():
    assert (layers.shared_code() / "python" / "closedloop" / "__init__.py").is_file()
