"""The class-data-sharing archive for the Hail driver JVM (callset.runtime.jvm_cds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from callset.runtime import jvm_cds


@pytest.fixture
def fake_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "share" / "callset" / "a.jsa"
    monkeypatch.setattr(jvm_cds, "archive_path", lambda home: path)
    monkeypatch.delenv(jvm_cds.CDS_ENV, raising=False)
    monkeypatch.delenv(jvm_cds.DUMP_ENV, raising=False)
    return path


def test_no_archive_no_options(fake_archive: Path) -> None:
    assert jvm_cds.driver_java_options("/usr/lib/jvm/x") == ""


def test_archive_used_when_built_and_can_be_turned_off(fake_archive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_archive.parent.mkdir(parents=True)
    fake_archive.write_bytes(b"x")
    opts = jvm_cds.driver_java_options("/usr/lib/jvm/x")
    assert opts.startswith(f"-XX:SharedArchiveFile={fake_archive} ") and "-Xlog:cds=off" in opts
    monkeypatch.setenv(jvm_cds.CDS_ENV, "0")
    assert jvm_cds.driver_java_options("/usr/lib/jvm/x") == ""


def test_dumping_run_writes_instead_of_reading(fake_archive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(jvm_cds.DUMP_ENV, "/tmp/dump here.jsa")
    assert jvm_cds.driver_java_options("/usr/lib/jvm/x").startswith("-XX:ArchiveClassesAtExit='/tmp/dump here.jsa' ")


def test_archive_name_follows_jdk_and_versions(tmp_path: Path) -> None:
    from importlib.metadata import version

    jdk = tmp_path / "java-17-x"
    jdk.mkdir()
    (tmp_path / "link").symlink_to(jdk)
    name = jvm_cds.archive_path(tmp_path / "link").name
    assert name == f"hail-{version('hail')}-pyspark-{version('pyspark')}-java-17-x.jsa"


def test_session_jvm_maps_the_archive_when_installed(hail_session) -> None:
    """After make install built the archive, the tests' own driver JVM starts with it (and works)."""
    from pyspark import SparkContext

    from callset.runtime.java import find_java_home

    path = jvm_cds.archive_path(find_java_home())
    if not path.is_file():
        pytest.skip(f"{path}: no archive built (make install builds it)")
    jvm = SparkContext._jvm
    args = list(jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    assert f"-XX:SharedArchiveFile={path}" in args
    assert hail_session.eval(hail_session.literal(41) + 1) == 42
