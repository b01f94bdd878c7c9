"""Checks the marketers' content (config/, templates/ and offers/) as a whole, before it can hurt a send.

Called by `make test` (tests/content), by the content layer build at `cdk synth`, and when the local runtime
starts: a broken file fails there with one plain sentence instead of failing a recipient's mail later.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from closedloop.config import CONFIG_FILE, load_config
from closedloop.errors import ConfigError


def check_content(content_dir: Path) -> None:
    """Raise ConfigError naming the first problem: bad config, an unknown zone, a missing or unparsable template, a
    template without its text part, a bad offer pool or a template naming a pool that does not exist."""
    from closedloop.adapters.templates import PARTS, compile_all, pools_named, template_exists
    from closedloop.offers import OFFERS_DIR, load_pools

    content_dir = Path(content_dir)
    load_config.cache_clear()  # always the files as they are now
    config = load_config(content_dir)
    try:
        ZoneInfo(config.birthday.default_timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        zone = config.birthday.default_timezone
        raise ConfigError(f"{CONFIG_FILE}: unknown time zone {zone!r} in [birthday] default_timezone") from error
    templates = content_dir / "templates"
    for where, name in config.templates().items():
        if not template_exists(templates, name):
            raise ConfigError(
                f"{CONFIG_FILE}: {where} names template {name!r}, but templates/{name}/ "
                "with subject.txt, body.html and body.txt does not exist"
            )
    for folder in sorted(templates.iterdir()) if templates.is_dir() else []:
        if folder.is_dir() and not folder.name.startswith("_"):
            for part in PARTS:  # body.txt too: every mail always has its text part
                if not (folder / part).is_file():
                    raise ConfigError(f"templates/{folder.name}/ has no {part}: a template needs {', '.join(PARTS)}")
    compile_all(templates)
    load_pools.cache_clear()
    pools = load_pools(content_dir).pools
    for file, line, pool in pools_named(templates):
        if pool not in pools:
            known = ", ".join(sorted(pools)) or "none"
            raise ConfigError(
                f"{file}, line {line}: offers({pool!r}, …) names a pool that does not exist "
                f"({OFFERS_DIR}/{pool}.toml; known: {known})"
            )
