"""The layers: dependency pins in step with pyproject, no runtime-provided SDK, content and shared code in place."""

from __future__ import annotations

import functools
import re
import shutil
import tomllib
from pathlib import Path

import pytest

from infra import app, layers
from infra.app import build_app
from tests.infra.conftest import cdk_json_context

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
    # Given the project's runtime dependencies and the layers' requirements (dependencies, and pydantic apart)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    layer = layers.REQUIREMENTS.read_text().splitlines() + layers.PYDANTIC_REQUIREMENTS.read_text().splitlines()

    # Then both name the same packages at the same versions
    assert _requirements(layer) == _requirements(project)


@pytest.mark.parametrize("requirements", [layers.REQUIREMENTS, layers.PYDANTIC_REQUIREMENTS], ids=lambda p: p.name)
def test_every_layer_requirement_is_pinned_to_one_version(requirements: Path):
    for requirement in _requirements(requirements.read_text().splitlines()).values():
        assert "==" in requirement, requirement


def test_pydantic_has_its_own_layer_and_not_the_shared_dependencies():
    assert "pydantic" not in _requirements(layers.REQUIREMENTS.read_text().splitlines())
    assert "pydantic" in _requirements(layers.PYDANTIC_REQUIREMENTS.read_text().splitlines())


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


@pytest.fixture(scope="module")
def pydantic_layer() -> Path:
    return layers.build_pydantic() / "python"


def test_pydantic_layer_carries_pydantic_built_for_python313_on_arm64(pydantic_layer: Path):
    for package in ("pydantic", "pydantic_core"):
        assert (pydantic_layer / package).is_dir(), package
    binaries = [path.name for path in pydantic_layer.rglob("*.so")]
    assert binaries and all("cpython-313-aarch64" in name or "abi3" in name for name in binaries), binaries


def test_pydantic_layer_leaves_out_what_the_dependency_layer_ships(dependency_layer: Path, pydantic_layer: Path):
    # Two copies of one package in /opt/python would be shadowed by layer order: one copy each.
    shipped = {layers._distribution(entry) for entry in dependency_layer.iterdir()}
    assert "typing_extensions" in shipped
    assert not shipped & {layers._distribution(entry) for entry in pydantic_layer.iterdir()}
    assert not shipped & {"pydantic", "pydantic_core"}


def test_dependency_layer_is_reused_while_requirements_are_unchanged(dependency_layer: Path):
    marker = dependency_layer / "jinja2" / "__init__.py"
    before = marker.stat().st_mtime_ns
    layers.build_dependencies()
    assert marker.stat().st_mtime_ns == before


def test_content_layer_lands_templates_config_and_offers_under_content():
    staged = layers.build_content() / "content"
    assert {path.name for path in staged.iterdir()} == {"templates", "config", "offers"}
    for name in ("templates", "config", "offers"):
        source = ROOT / name
        expected = {p.relative_to(source) for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
        assert {p.relative_to(staged / name) for p in (staged / name).rglob("*") if p.is_file()} == expected


# --- the content check at synth ----------------------------------------------------------------------------------

TYPO = 'config/closedloop.toml: unknown key "inactive_dayz" in [we_miss_you]'


def _content_copy(root: Path) -> Path:
    """A copy of the shipped templates/, config/ and offers/ to break on purpose."""
    for name in layers.CONTENT_SOURCES:
        shutil.copytree(ROOT / name, root / name)
    return root


@pytest.fixture
def content_with_a_typo(tmp_path: Path) -> Path:
    root = _content_copy(tmp_path / "repo")
    config = root / "config" / "closedloop.toml"
    text = config.read_text()
    assert "inactive_days = 60" in text
    config.write_text(text.replace("inactive_days = 60", "inactive_dayz = 60"))
    return root


def test_the_shipped_content_passes_the_check():
    staged = layers.build_content() / "content"
    assert (staged / "config" / "closedloop.toml").is_file()


def test_a_typo_in_the_config_fails_the_content_layer_build_with_a_plain_sentence(content_with_a_typo: Path):
    with pytest.raises(layers.ContentInvalid) as failure:
        layers.build_content(root=content_with_a_typo)
    assert str(failure.value).startswith(TYPO)
    # Nothing half-built is left where the layer is read from.
    assert not (content_with_a_typo / ".build" / "layers" / "content").exists()
    assert not (content_with_a_typo / ".build" / "layers" / "content.tmp").exists()


def test_a_rule_naming_a_missing_template_fails_the_content_layer_build(tmp_path: Path):
    root = _content_copy(tmp_path / "repo")
    shutil.rmtree(root / "templates" / "travel-offers")
    with pytest.raises(layers.ContentInvalid, match=r"templates/travel-offers/"):
        layers.build_content(root=root)


def test_a_template_naming_a_missing_offer_pool_fails_the_content_layer_build(tmp_path: Path):
    root = _content_copy(tmp_path / "repo")
    (root / "offers" / "deals.toml").rename(root / "offers" / "bargains.toml")
    with pytest.raises(layers.ContentInvalid, match=r"offers\('deals', …\) names a pool that does not exist"):
        layers.build_content(root=root)


def test_a_copy_that_passes_is_staged_under_its_own_root(tmp_path: Path):
    root = _content_copy(tmp_path / "repo")
    assert layers.build_content(root=root) == root / ".build" / "layers" / "content"


def test_a_typo_in_the_config_fails_the_app_synth(content_with_a_typo: Path, tmp_path: Path):
    with pytest.raises(layers.ContentInvalid, match=re.escape(TYPO)):
        build_app(context=cdk_json_context(), outdir=str(tmp_path / "cdk.out"), content_root=content_with_a_typo)


def test_cdk_synth_stops_with_the_sentence_not_a_traceback(
    content_with_a_typo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # Given the CLI entry point building the app from the broken copy
    monkeypatch.setattr(app, "build_app", functools.partial(app.build_app, content_root=content_with_a_typo))

    # When cdk.json's `python3 -m infra.app` runs it, then it exits with the checker's sentence as its message
    with pytest.raises(SystemExit) as exit_:
        app.main()
    assert TYPO in str(exit_.value.code)


def test_shared_layer_ships_the_closedloop_package_under_python():
    assert (layers.shared_code() / "python" / "closedloop" / "__init__.py").is_file()
