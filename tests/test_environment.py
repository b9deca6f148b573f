"""Binder's environment.yml must pin what constraints.txt pins."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# Packages environment.yml must carry, with the version from constraints.txt.
REQUIRED = ["numpy", "scipy", "matplotlib", "jupyterlab", "jupytext", "ipykernel"]


def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*(\S+)", line)
        if match:
            pins[_norm(match.group(1))] = match.group(2)
    return pins


@pytest.fixture(scope="module")
def constraints():
    return _pins((ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines())


@pytest.fixture(scope="module")
def environment():
    return yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))


def _conda_deps(env):
    return [d for d in env["dependencies"] if isinstance(d, str)]


def _pip_lines(env):
    for dep in env["dependencies"]:
        if isinstance(dep, dict) and "pip" in dep:
            return dep["pip"]
    return []


def test_python_is_311(environment):
    assert "python=3.11" in [d.replace(" ", "") for d in _conda_deps(environment)]
    assert environment["channels"] == ["conda-forge"]


def test_pip_is_listed(environment):
    # Without conda's pip, the pip section and postBuild fail ("No module named pip").
    assert "pip" in _conda_deps(environment)


def test_pip_section_pins_exactly(environment):
    lines = _pip_lines(environment)
    assert lines, "environment.yml has no pip section"
    unpinned = [line for line in lines if "==" not in line]
    assert not unpinned, f"pip entries without an exact pin: {unpinned}"


@pytest.mark.parametrize("package", REQUIRED)
def test_required_pin_matches_constraints(package, environment, constraints):
    env_pins = _pins(_pip_lines(environment))
    assert package in constraints, f"{package} is not pinned in constraints.txt"
    assert env_pins.get(package) == constraints[package], (
        f"environment.yml pins {package}=={env_pins.get(package)}, "
        f"constraints.txt {package}=={constraints[package]}"
    )


def test_every_pip_pin_matches_constraints(environment, constraints):
    env_pins = _pins(_pip_lines(environment))
    diff = {
        name: (version, constraints.get(name))
        for name, version in env_pins.items()
        if constraints.get(name) != version
    }
    assert not diff, f"environment.yml vs constraints.txt (name: (env, constraints)): {diff}"


def test_postbuild_installs_package():
    text = (ROOT / "postBuild").read_text(encoding="utf-8")
    assert "pip install --no-deps ." in text
    assert "jupytext-config set-default-viewer markdown myst" in text
    assert (ROOT / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"
