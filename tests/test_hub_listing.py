"""The Meltano Hub submission, meltano.yml's loader and the README's settings table.

All are generated from `target-attentive --about --format json` by the scripts in
scripts/; these tests fail when one of them is stale, when a setting of the target is
missing or its description is not plain sentences, or when the submission would fail the
Hub's own checks: its JSON Schema (with its validator settings), its yamllint configuration
and its name check. Those checks are read from a copy of the Hub repository at
`../shared/reference/meltano-hub/` (next to this checkout), never copied into the project;
without it they are skipped, except with `CI` set, where they fail.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from conftest import _in_ci

from target_attentive.config_schema import CONFIG_SCHEMA
from target_attentive.target import TargetAttentive

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
HUB_DIR = ROOT / "hub"
LISTING_PATH = HUB_DIR / "loaders" / "target-attentive" / "target-attentive.yml"
MAINTAINERS_PATH = HUB_DIR / "maintainers.yml"
DEFAULT_VARIANTS_PATH = HUB_DIR / "default_variants.yml"
HUB_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "meltano-hub"
PROPERTIES: dict[str, Any] = CONFIG_SCHEMA["properties"]
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
# Meltano's project schema accepts these for a loader in meltano.yml; the Hub also takes
# the SDK's validate-records, which --about declares.
MELTANO_LOADER_CAPABILITIES = {
    "about",
    "batch",
    "stream-maps",
    "schema-flattening",
    "structured-logging",
}
LISTING_CAPABILITIES = MELTANO_LOADER_CAPABILITIES | {"validate-records"}
# Where each generated file lands in the Hub repository.
HUB_PATHS = {
    LISTING_PATH: "_data/meltano/loaders/target-attentive/target-attentive.yml",
    MAINTAINERS_PATH: "_data/maintainers.yml",
    DEFAULT_VARIANTS_PATH: "_data/default_variants.yml",
}


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
make_hub_logo = _script("make_hub_logo")


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
    maintainers, variants = tmp_path / "maintainers.yml", tmp_path / "default_variants.yml"
    for source, copy in [
        (LISTING_PATH, listing),
        (ROOT / "meltano.yml", melt),
        (MAINTAINERS_PATH, maintainers),
        (DEFAULT_VARIANTS_PATH, variants),
    ]:
        shutil.copy(source, copy)
    paths = ["--listing", str(listing), "--meltano-yml", str(melt)]
    paths += ["--maintainers", str(maintainers), "--default-variants", str(variants)]
    assert make_hub_listing.main(["--check", *paths]) == 0

    listing.write_text(listing.read_text().replace("label: Mode", "label: Mode (old)"))
    assert make_hub_listing.main(["--check", *paths]) == 1
    assert make_hub_listing.main(paths) == 0, "without --check it rewrites the file"
    assert listing.read_text() == LISTING_PATH.read_text()

    melt.write_text(melt.read_text().replace("    - name: max_rejects\n", "    - name: old\n"))
    assert make_hub_listing.main(["--check", *paths]) == 1
    make_hub_listing.main(paths)
    assert melt.read_text() == (ROOT / "meltano.yml").read_text()

    variants.unlink()
    assert make_hub_listing.main(["--check", *paths]) == 1
    make_hub_listing.main(paths)
    assert variants.read_text() == DEFAULT_VARIANTS_PATH.read_text()


def test_hub_logo_is_current(tmp_path: Path) -> None:
    assert make_hub_logo.main(["--check"]) == 0, "run: python scripts/make_hub_logo.py"
    logo = tmp_path / "logo.png"
    assert make_hub_logo.main(["--check", "--logo", str(logo)]) == 1
    assert make_hub_logo.main(["--logo", str(logo)]) == 0
    assert make_hub_logo.main(["--check", "--logo", str(logo)]) == 0


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
    assert listing["quality"] == "unknown", "the Hub rates a new connector itself"
    assert listing["log_parser"] == "singer-sdk"
    assert listing["keywords"] == ["meltano_sdk", "attentive", "sms", "email"]
    assert listing["settings_group_validation"] == [["api_key"], ["dry_run"]]
    assert set(listing["capabilities"]) == LISTING_CAPABILITIES
    assert "PyPI" in listing["usage"] and "pip_url" in listing["usage"]
    names = {s["name"] for s in listing["settings"]}
    for group in listing["settings_group_validation"]:
        assert set(group) <= names


def test_listing_is_laid_out_like_the_hubs_files(listing: dict[str, Any]) -> None:
    text = LISTING_PATH.read_text(encoding="utf-8")
    assert "until it is published" in text, "the header says how to install before PyPI"
    unsorted = _unsorted_mappings(listing)
    assert not unsorted, f"the Hub's files sort their keys at every level: {unsorted}"
    names = [s["name"] for s in listing["settings"]]
    assert names == sorted(names), "the Hub's files sort settings by name"
    assert listing["capabilities"] == sorted(listing["capabilities"])
    for setting in listing["settings"]:
        assert list(setting) == sorted(setting), setting["name"]
        assert setting["kind"] in HUB_KINDS, setting["name"]
        assert set(setting) <= {"name", "label", "kind", "description", "value", "sensitive"} | {
            "options"
        }, setting["name"]


def _unsorted_mappings(data: Any, where: str = "") -> list[str]:
    """Where in the data a mapping's keys are not in alphabetical order."""
    found: list[str] = []
    if isinstance(data, dict):
        if list(data) != sorted(data):
            found.append(where or "top level")
        for key, value in data.items():
            found += _unsorted_mappings(value, f"{where}.{key}" if where else str(key))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            found += _unsorted_mappings(item, f"{where}[{index}]")
    return found


def test_commands_are_sorted_inside_too(listing: dict[str, Any]) -> None:
    commands = listing["commands"]
    assert list(commands) == ["jobs", "ledger-counts", "optins-in-doubt"]
    for name, command in commands.items():
        assert list(command) == ["args", "description", "executable"], name


def test_capabilities_are_those_about_declares(
    listing: dict[str, Any], about: dict[str, Any]
) -> None:
    assert listing["capabilities"] == sorted(about["capabilities"])


def test_supported_python_versions_are_those_about_declares(
    listing: dict[str, Any], about: dict[str, Any]
) -> None:
    assert listing["supported_python_versions"] == about["supported_python_versions"]
    assert "3.10" in listing["supported_python_versions"], "requires-python is >=3.10"


# --- meltano.yml in step with the listing -----------------------------------------------------


def test_meltano_yml_loader_matches_the_listing(listing: dict[str, Any]) -> None:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    (loader,) = project["plugins"]["loaders"]
    for key in ("namespace", "executable", "settings_group_validation"):
        assert loader[key] == listing[key], key
    listed = [c for c in listing["capabilities"] if c in MELTANO_LOADER_CAPABILITIES]
    assert sorted(loader["capabilities"]) == listed
    assert "log_parser" not in loader and "supported_python_versions" not in loader, (
        "Meltano's project schema refuses them in meltano.yml"
    )
    assert {s["name"]: s for s in loader["settings"]} == {s["name"]: s for s in listing["settings"]}
    assert loader["pip_url"] == "-e ."
    assert "dry_run" in loader["config"], "the example config is kept around the generated block"


# --- every description, plain sentences ----------------------------------------------------

PLAIN_SENTENCES = [
    "Requests in flight at once.",
    "Keep the sync ledger. Without it every person is sent on every run.",
    "Upper bound on requests a second; unset: Attentive's published limit (150 single).",
    "Single sends one person a request to POST /v2/user/attributes.",
    "People per bulk request, 1 to 256.",
]
NOT_PLAIN = {
    "ledger URL of before": "SQLAlchemy URL of the sync ledger. Use PostgreSQL "
    "(postgresql+psycopg://...) for runs on several machines.",
    "backticks": "Streams not named are loaded with `mapping`.",
    "asterisk": "Attributes such as demographic and location are *nested*.",
    "markdown link": "See [Stream Maps](the stream maps page) for more.",
    "bare URL": "See https://sdk.meltano.com for more.",
    "scheme-less URL": "See www.attentive.com for more.",
    "three dots": "Fields named like the API's (email, phone, ...) are used.",
    "ellipsis character": "Fields named like the API's (email, phone…) are used.",
    "unbalanced parenthesis": "Opt-ins are sent (at most once per person.",
    "stray closing bracket": "Values are allowed] before sending.",
    "crossed brackets": "An object (with a list [of values)] in it.",
    "dot inside a word": "Numbers are sent in E.164 form.",
    "lower-case start": "single: one person a request.",
    "lower-case sentence": "One person a request. bulk: many.",
    "no full stop": "Requests in flight at once",
    "braces template": "The value {{ of this }} setting.",
    "html": "A <b>bold</b> claim.",
    "table": "A | B.",
    "emphasis": "An _emphasised_ word.",
    "empty": " ",
}


@pytest.mark.parametrize("text", PLAIN_SENTENCES)
def test_the_description_rule_accepts_plain_sentences(text: str) -> None:
    assert make_hub_listing.description_problems(text) == []


@pytest.mark.parametrize("text", NOT_PLAIN.values(), ids=NOT_PLAIN.keys())
def test_the_description_rule_refuses_what_the_hub_cannot_show(text: str) -> None:
    assert make_hub_listing.description_problems(text)


@pytest.mark.parametrize("name", sorted(CONFIG_SCHEMA["properties"]))
def test_every_setting_description_in_the_schema_is_plain_sentences(name: str) -> None:
    """Settings added to config_schema.py later are checked here too, one test each."""
    description = " ".join(CONFIG_SCHEMA["properties"][name].get("description", "").split())
    problems = make_hub_listing.description_problems(description)
    assert not problems, f"{name}: rewrite its description in config_schema.py: {problems}"


def test_every_description_in_the_listing_is_plain_sentences(listing: dict[str, Any]) -> None:
    """The SDK's settings too: their own descriptions hold links and markdown."""
    problems = {
        s["name"]: make_hub_listing.description_problems(s["description"])
        for s in listing["settings"]
    }
    assert not {name: found for name, found in problems.items() if found}
    for name in make_hub_listing.SDK_DESCRIPTIONS:
        assert name in {s["name"] for s in listing["settings"]}, f"{name}: no such setting"
        assert name not in PROPERTIES, f"{name}: describe it in config_schema.py instead"


def test_a_bad_description_stops_the_script(about: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(about))
    broken["settings"]["properties"]["api_url"]["description"] = "See `api_url` ..."
    with pytest.raises(ValueError, match=r"api_url.*not plain sentences"):
        make_hub_listing.listing(broken)


# --- the rest of the submission --------------------------------------------------------------


def test_maintainer_and_default_variant_entries(listing: dict[str, Any]) -> None:
    maintainers = yaml.safe_load(MAINTAINERS_PATH.read_text(encoding="utf-8"))
    assert list(maintainers) == [listing["variant"]], "on the Hub a variant names its maintainer"
    entry = maintainers[listing["variant"]]
    assert list(entry) == ["label", "name", "url"]
    assert entry["name"] == listing["variant"] and entry["label"]
    assert entry["url"].startswith("https://") and listing["repo"].startswith(entry["url"])
    default_variants = yaml.safe_load(DEFAULT_VARIANTS_PATH.read_text(encoding="utf-8"))
    assert default_variants == {"loaders": {listing["name"]: listing["variant"]}}


def test_logo_is_a_small_png_where_logo_url_points(listing: dict[str, Any]) -> None:
    logo_url = listing["logo_url"]
    assert logo_url.startswith("/assets/logos/loaders/"), "the Hub serves logos from static/"
    logo = HUB_DIR / "static" / logo_url.lstrip("/")
    assert logo == make_hub_logo.LOGO
    width, height, rgba = make_hub_logo.read_png(logo.read_bytes())
    assert width == height == make_hub_logo.SIZE
    assert logo.stat().st_size < 20_000
    alphas = set(rgba[3::4])
    assert 0 in alphas and 255 in alphas, "a round logo on a transparent background"


def test_hub_readme_names_every_file_of_the_submission() -> None:
    readme = (HUB_DIR / "README.md").read_text(encoding="utf-8")
    for path, hub_path in HUB_PATHS.items():
        assert str(path.relative_to(HUB_DIR)) in readme
        assert hub_path in readme
    assert str(make_hub_logo.LOGO.relative_to(HUB_DIR)) in readme
    submitted = {p for p in HUB_DIR.rglob("*") if p.is_file()}
    expected = {*HUB_PATHS, make_hub_logo.LOGO, HUB_DIR / "README.md"}
    assert submitted == expected, "hub/ holds the submission and nothing else"


# --- the Hub's own checks --------------------------------------------------------------------


def _missing(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"{reason}; CI must run the Meltano Hub's checks")
    pytest.skip(reason)


def _need(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError:
        _missing(f"{module} is not installed (pip install -e '.[test]')")
        raise


@pytest.fixture(scope="module")
def hub_reference() -> Path:
    """The copy of the Hub repository's checks: schemas, .yamllint.yaml, utility scripts."""
    needed = [
        HUB_REFERENCE / "schemas" / "plugin_definitions" / "loaders.schema.json",
        HUB_REFERENCE / ".yamllint.yaml",
        HUB_REFERENCE / "utility_scripts" / "plugin_definitions" / "plugin_schema_validate.py",
        HUB_REFERENCE / "utility_scripts" / "plugin_definitions" / "yaml_check_names.py",
    ]
    cannot = "the Hub's schema, yamllint and name checks cannot run"
    if not HUB_REFERENCE.is_dir():
        _missing(f"no copy of the Meltano Hub's checks at {HUB_REFERENCE}: {cannot}")
    absent = [str(path.relative_to(HUB_REFERENCE)) for path in needed if not path.exists()]
    if absent:
        _missing(f"{HUB_REFERENCE} lacks {', '.join(absent)}: {cannot}")
    return HUB_REFERENCE


def _hub_validator(hub_reference: Path) -> Any:
    """A validator set up as the Hub's plugin_schema_validate.py sets its own up.

    Draft 7, with a registry of every schema under schemas/common and
    schemas/plugin_definitions keyed by its `$id`, for the loaders schema.
    """
    jsonschema = _need("jsonschema")
    referencing = _need("referencing")
    referencing_jsonschema = _need("referencing.jsonschema")
    resources = []
    for folder in ("common", "plugin_definitions"):
        for source in sorted((hub_reference / "schemas" / folder).iterdir()):
            if source.name.endswith(".json"):
                schema = json.loads(source.read_text(encoding="utf-8"))
                resource = referencing.Resource.from_contents(
                    schema, default_specification=referencing_jsonschema.DRAFT7
                )
                resources.append((schema["$id"], resource))
    registry = referencing.Registry().with_resources(resources)
    loaders = hub_reference / "schemas" / "plugin_definitions" / "loaders.schema.json"
    schema = json.loads(loaders.read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema, registry=registry)


def _hub_load(path: Path) -> Any:
    """The YAML as the Hub reads it: ruamel.yaml's default round-trip loader."""
    ruamel_yaml = _need("ruamel.yaml")
    with path.open(encoding="utf-8") as handle:
        return ruamel_yaml.YAML().load(handle)


def test_listing_passes_the_hubs_json_schema(hub_reference: Path) -> None:
    validator = _hub_validator(hub_reference)
    errors = [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in validator.iter_errors(_hub_load(LISTING_PATH))
    ]
    assert not errors, "\n".join(errors)


def test_the_hubs_json_schema_refuses_what_the_old_listing_lacked(
    hub_reference: Path, tmp_path: Path
) -> None:
    """The check has teeth: without quality, or with a kind the Hub does not know, it fails."""
    validator = _hub_validator(hub_reference)
    data = _hub_load(LISTING_PATH)
    del data["quality"]
    assert any("'quality' is a required property" in e.message for e in validator.iter_errors(data))
    data = _hub_load(LISTING_PATH)
    data["settings"][0]["kind"] = "text"
    data["homepage"] = "https://example.com/"
    messages = " ".join(e.message for e in validator.iter_errors(data))
    assert "'text' is not one of" in messages and "homepage" in messages


def _hub_layout(tmp_path: Path) -> Path:
    """A copy of the listing where the Hub repository keeps it: <root>/_data/meltano/..."""
    root = tmp_path / "hub-repository"
    target = root / HUB_PATHS[LISTING_PATH]
    target.parent.mkdir(parents=True)
    shutil.copy(LISTING_PATH, target)
    return root


def _run_hub_script(
    hub_reference: Path, script: str, *args: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    _need("ruamel.yaml")
    path = hub_reference / "utility_scripts" / "plugin_definitions" / script
    return subprocess.run(
        [sys.executable, str(path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


def test_the_hubs_schema_validation_script_accepts_the_listing(
    hub_reference: Path, tmp_path: Path
) -> None:
    """The Hub's own script, run as its CI runs it (from the Hub's root, on _data/meltano/)."""
    _need("jsonschema")
    data = _hub_layout(tmp_path) / "_data" / "meltano"
    done = _run_hub_script(
        hub_reference, "plugin_schema_validate.py", f"{data}/", cwd=hub_reference
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "All plugins pass the JSON Schema." in output
    assert '"loaders": "Plugins: 1, Variants: 1"' in output


def test_the_hubs_name_check_accepts_the_listing(hub_reference: Path, tmp_path: Path) -> None:
    done = _run_hub_script(hub_reference, "yaml_check_names.py", cwd=_hub_layout(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All taps and targets have expected names." in done.stdout


def _yamllint(hub_reference: Path, text: str, hub_path: str) -> list[str]:
    """yamllint's problems (errors and warnings) with the Hub's .yamllint.yaml."""
    linter = _need("yamllint.linter")
    config = _need("yamllint.config").YamlLintConfig(file=str(hub_reference / ".yamllint.yaml"))
    return [
        f"{hub_path}:{p.line}:{p.column}: {p.level}: {p.desc} ({p.rule})"
        for p in linter.run(text, config, hub_path)
    ]


@pytest.mark.parametrize("path", list(HUB_PATHS), ids=[p.name for p in HUB_PATHS])
def test_the_submission_passes_yamllint_with_the_hubs_configuration(
    hub_reference: Path, path: Path
) -> None:
    problems = _yamllint(hub_reference, path.read_text(encoding="utf-8"), HUB_PATHS[path])
    assert not problems, "\n".join(problems)


def test_the_hubs_yamllint_catches_unsorted_nested_keys(hub_reference: Path) -> None:
    """The check has teeth: commands written in meltano.yml's order fail key-ordering."""
    data = yaml.safe_load(LISTING_PATH.read_text(encoding="utf-8"))
    data["commands"] = make_hub_listing.HUB_FIELDS["commands"]
    text = make_hub_listing.dump(data)
    problems = _yamllint(hub_reference, text, HUB_PATHS[LISTING_PATH])
    assert problems and all("key-ordering" in problem for problem in problems), problems
    assert any(re.search(r"wrong ordering of key \"args\"", p) for p in problems), problems
