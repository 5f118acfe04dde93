"""The admin forms, the API schema and the command line take their choices, limits and
defaults from one spec per operation: change a default there and all three change."""

import json
import re

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.services.export.params import ExportSpec
from app.services.faces.spec import CropSpec
from app.services.training_specs import TrainSpec, TuneSpec
from app.specs import fields
from tests.services.export_helpers import build_dataset
from tests.support.web import login

FORMS = {"export": ExportSpec, "crop": CropSpec, "train": TrainSpec, "tune": TuneSpec}


def _form_fields(page: str, kind: str) -> dict[str, str]:
    """name -> the tag of each input/select in the admin page's form for this kind."""
    form = re.search(rf'<form[^>]*id="{kind}-form".*?</form>', page, re.S).group(0)
    tags = re.findall(r'(<input [^>]*name="(\w+)"[^>]*>)', form)
    tags += re.findall(r'(<select [^>]*name="(\w+)"[^>]*>.*?</select>)', form, re.S)
    return {name: tag for tag, name in tags if name not in ("csrf_token", "kind", "dataset")}


def _shown_default(tag: str) -> str:
    selected = re.search(r'<option value="([^"]*)" selected>', tag)
    if selected:
        return selected.group(1)
    value = re.search(r'<input [^>]*value="([^"]*)"', tag)
    return value.group(1) if value else ""  # no value attribute: empty


@pytest.fixture
def admin_page(client, make_user):
    make_user("boss", role="admin")
    login(client, "boss")
    return lambda: client.get("/admin").text


def test_admin_forms_show_the_spec_defaults_and_limits(admin_page):
    page = admin_page()
    for kind, spec in FORMS.items():
        shown = _form_fields(page, kind)
        assert shown, kind
        for name, tag in shown.items():
            view = fields(spec)[name]
            expected = "" if view.default is None else str(view.default)
            assert _shown_default(tag) == expected, (kind, name)
            if view.minimum is not None:
                assert f'min="{view.minimum}"' in tag, (kind, name)
            for choice in view.choices:
                assert f'<option value="{choice}"' in tag, (kind, name, choice)


def test_the_api_schema_is_the_specs(client, admin_page):
    admin_page()
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for spec in FORMS.values():
        properties = schemas[spec.__name__]["properties"]
        for name, view in fields(spec).items():
            if not view.required and not isinstance(view.default, tuple):
                assert properties[name].get("default") == view.default, (spec, name)


def test_changing_one_default_changes_form_schema_and_command(settings, make_user, session,
                                                              tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.routes.api_jobs import ExportJob

    monkeypatch.setattr(ExportSpec.model_fields["size"], "default", 24)
    for model in (ExportSpec, ExportJob):  # what importing the edited module would build
        model.model_rebuild(force=True)
    make_user("boss", role="admin")
    try:
        with TestClient(create_app(settings)) as client:  # a server started after the change
            login(client, "boss")
            page = client.get("/admin").text
            schema = client.get("/openapi.json").json()["components"]["schemas"]["ExportSpec"]
        assert _shown_default(_form_fields(page, "export")["size"]) == "24"
        assert schema["properties"]["size"]["default"] == 24

        build_dataset(session, tmp_path / "ck")
        session.commit()
        env = {"ONSET_DATA_DIR": str(settings.data_dir),
               "ONSET_DATABASE_URL": settings.resolved_database_url}
        result = CliRunner().invoke(cli, ["export", str(tmp_path / "out"), "--face", "none",
                                          "--folds", "2", "--json"], env=env)
        assert result.exit_code == 0, result.output
        dataset = json.loads((tmp_path / "out" / "dataset.json").read_text())
        assert dataset["image"]["size"] == 24
    finally:
        monkeypatch.undo()
        for model in (ExportSpec, ExportJob):
            model.model_rebuild(force=True)
    assert ExportSpec().size == 48


def test_cli_help_states_the_spec_defaults():
    for command, spec in (("export", ExportSpec), ("tune", TuneSpec), ("crop", CropSpec)):
        args = [command, "--help"] if command != "tune" else ["tune", "--help"]
        text = " ".join(CliRunner().invoke(cli, args, env={"COLUMNS": "200"}).output.split())
        for view in fields(spec).values():
            if isinstance(view.default, (int, float, str)) and not isinstance(view.default,
                                                                               bool):
                assert f"[default: {view.default}]" in text, (command, view.name)
