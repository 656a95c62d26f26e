#!/usr/bin/env python3
"""Write the loader's Meltano Hub submission, and meltano.yml's copy of it, from `--about`.

    python scripts/make_hub_listing.py          # rewrite the files that are stale
    python scripts/make_hub_listing.py --check  # exit 1 when one of them is stale

The settings come from `target-attentive --about --format json`, so the Hub listing
(`hub/loaders/target-attentive/target-attentive.yml`, in the layout of the Hub's
`_data/meltano/loaders/<name>/<variant>.yml`: keys sorted at every level, settings sorted
by name), the maintainers and default-variant entries next to it (`hub/maintainers.yml`,
`hub/default_variants.yml`) and the loader block of `meltano.yml` (between its
`generated:start` / `generated:end` comments) never drift from the target's own settings
schema. What `--about` cannot tell (label, links, keywords, the option labels of `mode`)
is written down once below. The logo is drawn by scripts/make_hub_logo.py.

Every setting description must read as plain sentences (see `description_problems`): the
Hub renders them as text, and its generator rewrites dots inside words and chokes on
ellipses, so a description that breaks the rule stops the script.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
NAME = "target-attentive"
VARIANT = "target-attentive"
HUB = ROOT / "hub"
LISTING = HUB / "loaders" / NAME / f"{VARIANT}.yml"
MAINTAINERS = HUB / "maintainers.yml"
DEFAULT_VARIANTS = HUB / "default_variants.yml"
MELTANO_YML = ROOT / "meltano.yml"

REPO_URL = "https://github.com/target-attentive/target-attentive"
# On the Hub a variant is named after its maintainer: the owner of the repository.
MAINTAINER = {
    "label": "target-attentive",
    "name": VARIANT,
    "url": "https://github.com/target-attentive",
}
HUB_FIELDS: dict[str, Any] = {
    "label": "Attentive",
    "namespace": "target_attentive",
    "variant": VARIANT,
    "executable": NAME,
    # Until the package is on PyPI, install it from the repository instead (see `usage`).
    "pip_url": NAME,
    "repo": REPO_URL,
    "domain_url": "https://www.attentive.com/",
    "logo_url": "/assets/logos/loaders/attentive.png",
    "maintenance_status": "beta",
    # The Hub rates a connector itself; a new listing starts unrated.
    "quality": "unknown",
    # The target logs through the SDK: Meltano can read its structured log lines.
    "log_parser": "singer-sdk",
    "keywords": ["meltano_sdk", "attentive", "sms", "email"],
    # The operating commands read the loader's settings from the environment Meltano sets.
    "commands": {
        "ledger-counts": {
            "executable": "target-attentive-ledger",
            "args": "counts",
            "description": "What the sync ledger holds: people, opt-ins by status, custom "
            "attributes, bulk jobs.",
        },
        "optins-in-doubt": {
            "executable": "target-attentive-ledger",
            "args": "optins --status in_doubt",
            "description": "Opt-ins sent without a clear answer; never resent automatically.",
        },
        "jobs": {
            "executable": "target-attentive-jobs",
            "args": "--wait 0",
            "description": "Follow unfinished bulk jobs and write the people Attentive refused "
            "to the rejects file.",
        },
    },
    # A load needs the API key, or nothing but a dry run.
    "settings_group_validation": [["api_key"], ["dry_run"]],
    "usage": (
        "Until target-attentive is published on PyPI, install it from the repository: "
        "`meltano add --plugin-type loader target-attentive`, then set "
        f"`pip_url: git+{REPO_URL}.git` on the loader in `meltano.yml` and run "
        "`meltano install`. Rehearse a sync against the local sandbox "
        "(`target-attentive-sandbox`, `api_url: http://127.0.0.1:<port>`) before "
        "sending to Attentive."
    ),
}
# Capabilities Meltano accepts for a loader in meltano.yml (its project schema refuses the
# others, such as the SDK's validate-records; the Hub's schema accepts that one).
MELTANO_LOADER_CAPABILITIES = {
    "about",
    "stream-maps",
    "activate-version",
    "batch",
    "soft-delete",
    "hard-delete",
    "datatype-failsafe",
    "schema-flattening",
    "structured-logging",
}
# SDK settings that mean nothing to this target (load_method is for database targets).
NOT_APPLICABLE = {"load_method"}
# Plain-sentence descriptions of SDK settings whose own hold links or markdown.
SDK_DESCRIPTIONS = {
    "faker_config": "Settings of the Faker instance that map expressions can use as fake. "
    "It applies only when Faker is installed with the target, through the faker extra of "
    "singer-sdk or directly.",
    "flattening_enabled": "Set to true to enable schema flattening and automatically expand "
    "nested properties.",
    "stream_maps": "Stream maps to apply before loading, to rename, filter, add or remove "
    "streams and properties. The Meltano SDK documentation describes them.",
}
OPTION_LABELS = {
    ("mode", "single"): "Single (POST /v2/user/attributes)",
    ("mode", "bulk"): "Bulk (POST /v2/bulk/user/attributes)",
}
KINDS = {kind: kind for kind in ("string", "boolean", "integer", "object", "array")}

HEADER = f"""\
# Meltano Hub definition of the {NAME} loader, variant {VARIANT}, in the layout of
# the Hub's _data/meltano/loaders/<name>/<variant>.yml. Generated by
# scripts/make_hub_listing.py from `{NAME} --about --format json`: do not edit.
# pip_url names the PyPI package; until it is published there, install from the
# repository: pip_url: git+{REPO_URL}.git
# (or -e <checkout>).
"""
ENTRY_HEADER = """\
# The {what} entry of the {NAME} submission to the Meltano Hub. Merge it
# into the Hub's {where}, keeping its keys in alphabetical order.
# Generated by scripts/make_hub_listing.py: do not edit.
"""
MELTANO_START = "    # generated:start by scripts/make_hub_listing.py from --about: do not edit"
MELTANO_END = "    # generated:end"

# --- the description rule ------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_PROBLEMS = [
    (re.compile(r"\b[a-z][a-z0-9+.-]*://", re.I), "a URL"),
    (re.compile(r"\bwww\.", re.I), "a URL"),
    (re.compile(r"`"), "markdown (a backtick)"),
    (re.compile(r"\*"), "markdown (an asterisk)"),
    (re.compile(r"\[[^\]]*\]\s*\("), "markdown (a link)"),
    (re.compile(r"</?[a-z][^>]*>", re.I), "markup (an HTML tag)"),
    (re.compile(r"^\s*#|\|"), "markdown (a heading or a table)"),
    (re.compile(r"~~|__|(?<!\w)_|_(?!\w)"), "markdown (emphasis)"),
    (re.compile(r"\{\{|\{%"), "a template tag"),
    (re.compile(r"\.\.|…"), "an ellipsis"),
    (re.compile(r"\.(?=\S)"), "a dot inside a word (the Hub's generator splits it)"),
]
_PAIRS = {")": "(", "]": "[", "}": "{"}


def description_problems(text: str) -> list[str]:
    """What keeps a setting description from being plain sentences the Hub shows as they are.

    The Hub's generator splits every word at its dots and capitalises what follows (an
    ellipsis makes it crash), and the Hub renders descriptions as text: so one or more
    sentences, each starting with a capital or a digit and ending with a full stop, with no
    URL, no markdown, no dot inside a word and balanced brackets.
    """
    problems = [what for pattern, what in _PROBLEMS if pattern.search(text)]
    stack: list[str] = []
    for char in text:
        if char in "([{":
            stack.append(char)
        elif char in _PAIRS and (not stack or stack.pop() != _PAIRS[char]):
            problems.append(f"an unbalanced {char!r}")
            break
    if stack:
        problems.append(f"an unclosed {stack[-1]!r}")
    if not text.strip():
        return ["no text"]
    if text != " ".join(text.split()):
        problems.append("spaces or line breaks other than single spaces")
    for sentence in _SENTENCE_END.split(text.strip()):
        if not (sentence[0].isupper() or sentence[0].isdigit()):
            problems.append(f"a sentence that does not start with a capital: {sentence[:30]!r}")
        if sentence[-1] not in ".!?":
            problems.append(f"a sentence that does not end with a full stop: {sentence[-30:]!r}")
    return list(dict.fromkeys(problems))


# --- the definition ------------------------------------------------------------------------


def about() -> dict[str, Any]:
    """`target-attentive --about --format json`, from the console script next to Python."""
    script = Path(sys.executable).with_name(NAME)
    command = (
        [str(script)] if script.exists() else [sys.executable, "-m", "target_attentive.target"]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_ATTENTIVE_")}
    done = subprocess.run(
        [*command, "--about", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    return json.loads(done.stdout)


def json_type(prop: dict[str, Any]) -> str:
    """The one JSON type of a setting besides null: Meltano settings have a single kind."""
    types = prop.get("type")
    if isinstance(types, str):
        return types
    if isinstance(types, list):
        concrete = [t for t in types if t != "null"]
        if len(concrete) == 1:
            return concrete[0]
    raise ValueError(f"a setting needs exactly one JSON type besides null: {prop}")


def settings(about_json: dict[str, Any]) -> list[dict[str, Any]]:
    """One Meltano setting definition per setting of --about, in --about's order."""
    result = []
    for name, prop in about_json["settings"]["properties"].items():
        if name in NOT_APPLICABLE:
            continue
        description = SDK_DESCRIPTIONS.get(name) or " ".join(
            str(prop.get("description") or "").split()
        )
        if not description:
            raise ValueError(f"setting {name} has no description in the settings schema")
        problems = description_problems(description)
        if problems:
            raise ValueError(
                f"the description of setting {name} is not plain sentences: it has "
                f"{'; '.join(problems)}. Rewrite it in target_attentive/config_schema.py "
                "(or SDK_DESCRIPTIONS of scripts/make_hub_listing.py for an SDK setting)."
            )
        setting: dict[str, Any] = {
            "name": name,
            "label": prop.get("title") or name.replace("_", " ").title(),
            "kind": "options" if "enum" in prop else KINDS[json_type(prop)],
            "description": description,
        }
        if "enum" in prop:
            setting["options"] = [
                {"label": OPTION_LABELS.get((name, value), str(value)), "value": value}
                for value in prop["enum"]
            ]
        if prop.get("secret"):
            setting["sensitive"] = True
        if prop.get("default") is not None:
            setting["value"] = prop["default"]
        result.append(setting)
    return result


def meltano_capabilities(about_json: dict[str, Any]) -> list[str]:
    """--about's capabilities that a loader in meltano.yml may declare."""
    return [c for c in about_json["capabilities"] if c in MELTANO_LOADER_CAPABILITIES]


def sort_keys(data: Any) -> Any:
    """Mappings with their keys sorted at every level, as the Hub's yamllint requires."""
    if isinstance(data, dict):
        return {key: sort_keys(data[key]) for key in sorted(data)}
    if isinstance(data, list):
        return [sort_keys(item) for item in data]
    return data


def listing(about_json: dict[str, Any]) -> dict[str, Any]:
    """The Hub definition: every capability --about declares, settings sorted by name."""
    hub = {
        **HUB_FIELDS,
        "name": about_json["name"],
        "description": about_json["description"],
        "capabilities": sorted(about_json["capabilities"]),
        "supported_python_versions": list(about_json["supported_python_versions"]),
        "settings": sorted(settings(about_json), key=lambda s: s["name"]),
    }
    return sort_keys(hub)


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=88)


def render_listing(about_json: dict[str, Any]) -> str:
    return HEADER + dump(listing(about_json))


def render_maintainers() -> str:
    """The entry of the Hub's _data/maintainers.yml for the variant's maintainer."""
    header = ENTRY_HEADER.format(what="maintainer", NAME=NAME, where="_data/maintainers.yml")
    return header + dump(sort_keys({VARIANT: MAINTAINER}))


def render_default_variants() -> str:
    """The entry of the Hub's _data/default_variants.yml: this variant is the default one."""
    header = ENTRY_HEADER.format(
        what="default-variant", NAME=NAME, where="_data/default_variants.yml"
    )
    return header + dump({"loaders": {NAME: VARIANT}})


def meltano_block(about_json: dict[str, Any]) -> str:
    """The generated part of meltano.yml's loader: the listing's definition, readable order.

    Meltano's project schema knows neither log_parser nor supported_python_versions for a
    plugin in meltano.yml, so those stay in the listing only.
    """
    block = {
        "namespace": HUB_FIELDS["namespace"],
        "executable": HUB_FIELDS["executable"],
        "capabilities": meltano_capabilities(about_json),
        "settings_group_validation": HUB_FIELDS["settings_group_validation"],
        "commands": HUB_FIELDS["commands"],
        "settings": settings(about_json),
    }
    body = "".join("    " + line + "\n" if line else "\n" for line in dump(block).splitlines())
    return f"{MELTANO_START}\n{body}{MELTANO_END}\n"


def render_meltano_yml(current: str, about_json: dict[str, Any]) -> str:
    start = current.find(MELTANO_START)
    end = current.find(MELTANO_END)
    if start < 0 or end < start:
        raise ValueError(f"meltano.yml lacks the lines {MELTANO_START!r} ... {MELTANO_END!r}")
    end += len(MELTANO_END) + 1
    return current[:start] + meltano_block(about_json) + current[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a file is stale")
    parser.add_argument("--listing", type=Path, default=LISTING, help=argparse.SUPPRESS)
    parser.add_argument("--meltano-yml", type=Path, default=MELTANO_YML, help=argparse.SUPPRESS)
    parser.add_argument("--maintainers", type=Path, default=MAINTAINERS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--default-variants", type=Path, default=DEFAULT_VARIANTS, help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    about_json = about()
    wanted = {
        args.listing: render_listing(about_json),
        args.maintainers: render_maintainers(),
        args.default_variants: render_default_variants(),
        args.meltano_yml: render_meltano_yml(
            args.meltano_yml.read_text(encoding="utf-8"), about_json
        ),
    }
    stale = [
        path
        for path, text in wanted.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    for path in stale:
        if args.check:
            print(f"{path} is stale: run python scripts/make_hub_listing.py", file=sys.stderr)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(wanted[path], encoding="utf-8")
            print(f"wrote {path}", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
