# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's version has one source, galaxy.yml, and cannot drift from it.

- plugins/module_utils/_version.py (the version the User-Agent names) holds the version of galaxy.yml;
- galaxy.yml's version is a semantic version (Galaxy refuses anything else);
- it is the newest release of changelogs/changelog.yaml, or newer than every release there. Right after
  ``scripts/release X.Y.Z`` (which sets galaxy.yml, _version.py and records the release in one go) the two are
  equal; between releases galaxy.yml may already name the next, unreleased version. It never names an older one.
"""

from __future__ import annotations

import os
import re

import pytest
import yaml

from ansible_collections.community.ngrok.plugins.module_utils._version import COLLECTION_VERSION

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
GALAXY = os.path.join(ROOT, "galaxy.yml")
CHANGELOG = os.path.join(ROOT, "changelogs", "changelog.yaml")

#: Semantic versioning 2.0.0 (https://semver.org): MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD].
SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
                    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?")


def semver_key(version):
    """A sort key in semantic versioning's precedence: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-beta < 1.0.0 < 1.0.1."""
    match = SEMVER.fullmatch(version)
    assert match, "%r is not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD])" % (version,)
    major, minor, patch, prerelease = match.groups()
    if prerelease is None:
        release = (1,)  # a release sorts after all of its pre-releases
    else:
        # numeric identifiers sort numerically and before alphanumeric ones; more identifiers sort later
        release = (0,) + tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in prerelease.split("."))
    return (int(major), int(minor), int(patch), release)


def galaxy_version():
    with open(GALAXY, encoding="utf-8") as handle:
        return str(yaml.safe_load(handle)["version"])


def released_versions():
    with open(CHANGELOG, encoding="utf-8") as handle:
        return [str(version) for version in (yaml.safe_load(handle).get("releases") or {})]


@pytest.mark.parametrize("older, newer", [
    ("1.0.0-alpha", "1.0.0-alpha.1"),
    ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
    ("1.0.0-beta.2", "1.0.0-beta.11"),
    ("1.0.0-rc.1", "1.0.0"),
    ("0.9.9", "1.0.0"),
    ("1.0.0", "1.0.1"),
    ("1.0.9", "1.1.0"),
    ("1.9.0", "1.10.0"),
    ("1.10.0", "2.0.0"),
])
def test_semver_order(older, newer):
    assert semver_key(older) < semver_key(newer)
    assert semver_key(newer + "+build.5") == semver_key(newer)


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "1.0.0.0", "01.0.0", "1.0.0-", "1.0.0-01"])
def test_semver_refuses(version):
    with pytest.raises(AssertionError):
        semver_key(version)


def test_version_py_holds_the_version_of_galaxy_yml():
    assert COLLECTION_VERSION == galaxy_version(), (
        "plugins/module_utils/_version.py says %s, galaxy.yml %s: scripts/release sets both" % (COLLECTION_VERSION, galaxy_version()))


def test_galaxy_yml_version_is_a_semantic_version():
    semver_key(galaxy_version())


def test_galaxy_yml_version_is_the_newest_release_or_newer():
    version = galaxy_version()
    newer = [release for release in released_versions() if semver_key(release) > semver_key(version)]
    assert not newer, "galaxy.yml says %s, but changelogs/changelog.yaml has released %s" % (version, ", ".join(newer))
