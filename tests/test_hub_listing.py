"""The Meltano Hub listing, meltano.yml's loader and the README's settings table.

All three are generated from `target-attentive --about --format json` by the scripts in
scripts/; these tests fail when one of them is stale, when a setting of the target is
missing or undescribed, or when the listing leaves the Hub's layout.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from target_attentive.target import TargetAttentive

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
LISTING_PATH = ROOT / "hub" / "loaders" / "target-attentive" / "target-attentive.yml"
PROPERTIES: dict[str, Any] = TargetAttentive.config_jsonschema["properties"]
# The Hub's setting kinds (schemas/common/base_setting.schema.json of the Hub).
HUB_KINDS = {
    "oauth",
    "hidden",
    "password",
    "date_iso8601",
    "file",
    "email",
    "integer",
    "options",
    "object",
    "array",
    "boolean",
    "string",
}
HUB_MAINTENANCE = {"active", "beta", "development", "inactive", "unknown"}
MELTANO_LOADER_CAPABILITIES = {"about", "stream-maps", "schema-flattening", "structured-logging"}


def _script(name: str) -> ModuleType:
    sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


make_hub_listing = _script("make_hub_listing")
make_readme_settings = _script("make_readme_settings")


@pytest.fixture(scope="module")
def about() -> dict[str, Any]:
    return make_hub_listing.about()


@pytest.fixture(scope="module")
def listing() -> dict[str, Any]:
    return yaml.safe_load(LISTING_PATH.read_text(encoding="utf-8"))


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


# --- not stale --------------------------------------------------------------------------------


def test_hub_listing_and_meltano_yml_are_current() -> None:
    done = _run("make_hub_listing.py", "--check")
    assert done.returncode == 0, f"{done.stderr}\nrun: python scripts/make_hub_listing.py"


def test_check_fails_when_the_listing_or_meltano_yml_drifts(tmp_path: Path) -> None:
    listing, melt = tmp_path / "listing.yml", tmp_path / "meltano.yml"
    shutil.copy(LISTING_PATH, listing)
    shutil.copy(ROOT / "meltano.yml", melt)
    paths = ["--listing", str(listing), "--meltano-yml", str(melt)]
    assert make_hub_listing.main(["--check", *paths]) == 0

    listing.write_text(listing.read_text().replace("label: Mode", "label: Mode (old)"))
    assert make_hub_listing.main(["--check", *paths]) == 1
    assert make_hub_listing.main(paths) == 0, "without --check it rewrites the file"
    assert listing.read_text() == LISTING_PATH.read_text()

    melt.write_text(melt.read_text().replace("    - name: max_rejects\n", "    - name: old\n"))
    assert make_hub_listing.main(["--check", *paths]) == 1
    make_hub_listing.main(paths)
    assert melt.read_text() == (ROOT / "meltano.yml").read_text()


def test_readme_settings_table_is_current(tmp_path: Path) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    if make_readme_settings.START in text:
        done = _run("make_readme_settings.py", "--check")
        assert done.returncode == 0, f"{done.stderr}\nrun: python scripts/make_readme_settings.py"
        return
    # The README has no table yet: the script must still make one that --check accepts.
    copy = tmp_path / "README.md"
    copy.write_text(f"{text}\n{make_readme_settings.START}\n{make_readme_settings.END}\n")
    assert _run("make_readme_settings.py", "--check", "--readme", str(copy)).returncode == 1
    assert _run("make_readme_settings.py", "--readme", str(copy)).returncode == 0
    assert _run("make_readme_settings.py", "--check", "--readme", str(copy)).returncode == 0


def test_readme_table_has_a_row_per_setting_and_the_rest_untouched(
    about: dict[str, Any], tmp_path: Path
) -> None:
    readme = tmp_path / "README.md"
    start, end = make_readme_settings.START, make_readme_settings.END
    readme.write_text(f"# Title\n\nbefore\n\n{start}\nold table\n{end}\n\nafter\n")
    assert make_readme_settings.main(["--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# Title\n\nbefore\n\n" + start)
    assert text.endswith(f"{end}\n\nafter\n")
    assert "old table" not in text
    rows = {m[0]: m for m in re.findall(r"^\| `(\w+)` \| (.*?) \| (.*?) \| (.*) \|$", text, re.M)}
    expected = set(about["settings"]["properties"]) - make_hub_listing.NOT_APPLICABLE
    assert set(rows) == expected
    assert rows["api_key"][1] == "string, secret" and rows["api_key"][2] == ""
    assert rows["api_url"][2] == "`https://api.attentivemobile.com`"
    assert rows["mode"][1] == "`single` \\| `bulk`" and rows["mode"][2] == "`single`"
    assert rows["dry_run"][1:3] == ("boolean", "`false`")
    assert rows["checkpoint_interval_seconds"][1:3] == ("integer", "`300`")
    for name, row in rows.items():
        assert row[3].strip(), f"{name} has no description"

    readme.write_text("# no markers\n")
    assert make_readme_settings.main(["--readme", str(readme)]) == 2
    assert readme.read_text() == "# no markers\n"


# --- every setting of the target, described ----------------------------------------------


def test_every_setting_of_the_target_is_listed_with_kind_label_and_description(
    listing: dict[str, Any],
) -> None:
    settings = {s["name"]: s for s in listing["settings"]}
    missing = sorted(set(PROPERTIES) - set(settings))
    assert not missing, f"settings of target.py missing from the Hub listing: {missing}"
    kinds = {"string": "string", "boolean": "boolean", "integer": "integer", "object": "object"}
    for name, prop in PROPERTIES.items():
        setting = settings[name]
        assert setting["label"] == prop["title"], name
        assert setting["description"] == " ".join(prop["description"].split()), name
        declared = next(t for t in prop["type"] if t != "null")
        assert setting["kind"] == ("options" if "enum" in prop else kinds[declared]), name
        if "enum" in prop:
            assert [o["value"] for o in setting["options"]] == prop["enum"], name
        assert setting.get("value") == prop.get("default"), f"{name}: default"
        assert setting.get("sensitive", False) is bool(prop.get("secret")), name


def test_api_key_is_sensitive_and_has_no_default(listing: dict[str, Any]) -> None:
    (api_key,) = [s for s in listing["settings"] if s["name"] == "api_key"]
    assert api_key["sensitive"] is True
    assert "value" not in api_key
    assert api_key["kind"] == "string"
    assert [s["name"] for s in listing["settings"] if s.get("sensitive")] == ["api_key"]


def test_sdk_settings_are_listed_too(listing: dict[str, Any], about: dict[str, Any]) -> None:
    listed = {s["name"] for s in listing["settings"]}
    sdk_only = set(about["settings"]["properties"]) - set(PROPERTIES)
    assert sdk_only - listed == make_hub_listing.NOT_APPLICABLE == {"load_method"}
    assert {"stream_maps", "batch_size_rows", "validate_records", "flattening_enabled"} <= listed


# --- the Hub's layout ---------------------------------------------------------------------------


def test_listing_has_every_field_of_a_hub_loader(listing: dict[str, Any]) -> None:
    assert listing["name"] == "target-attentive"
    assert listing["namespace"] == "target_attentive"
    assert listing["variant"] == "target-attentive"
    assert listing["executable"] == "target-attentive"
    assert listing["pip_url"] == "target-attentive"
    assert listing["label"] == "Attentive"
    assert listing["description"] == TargetAttentive.__doc__
    assert listing["repo"].startswith("https://")
    assert listing["domain_url"] == "https://www.attentive.com/"
    assert listing["logo_url"].endswith(".png")
    assert listing["maintenance_status"] in HUB_MAINTENANCE
    assert listing["keywords"] == ["meltano_sdk", "attentive", "sms", "email"]
    assert listing["settings_group_validation"] == [["api_key"], ["dry_run"]]
    assert set(listing["capabilities"]) == MELTANO_LOADER_CAPABILITIES
    assert "PyPI" in listing["usage"] and "pip_url" in listing["usage"]
    names = {s["name"] for s in listing["settings"]}
    for group in listing["settings_group_validation"]:
        assert set(group) <= names


def test_listing_is_laid_out_like_the_hubs_files(listing: dict[str, Any]) -> None:
    text = LISTING_PATH.read_text(encoding="utf-8")
    assert "until it is published" in text, "the header says how to install before PyPI"
    assert list(listing) == sorted(listing), "the Hub's files sort their keys"
    names = [s["name"] for s in listing["settings"]]
    assert names == sorted(names), "the Hub's files sort settings by name"
    assert listing["capabilities"] == sorted(listing["capabilities"])
    for setting in listing["settings"]:
        assert list(setting) == sorted(setting), setting["name"]
        assert setting["kind"] in HUB_KINDS, setting["name"]
        assert set(setting) <= {"name", "label", "kind", "description", "value", "sensitive"} | {
            "options"
        }, setting["name"]


def test_capabilities_are_the_targets_less_validate_records(
    listing: dict[str, Any], about: dict[str, Any]
) -> None:
    assert set(listing["capabilities"]) == set(about["capabilities"]) - {"validate-records"}


# --- meltano.yml in step with the listing -----------------------------------------------------


def test_meltano_yml_loader_matches_the_listing(listing: dict[str, Any]) -> None:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    (loader,) = project["plugins"]["loaders"]
    for key in ("namespace", "executable", "settings_group_validation"):
        assert loader[key] == listing[key], key
    assert sorted(loader["capabilities"]) == listing["capabilities"]
    assert {s["name"]: s for s in loader["settings"]} == {s["name"]: s for s in listing["settings"]}
    assert loader["pip_url"] == "-e ."
    assert "dry_run" in loader["config"], "the example config is kept around the generated block"
