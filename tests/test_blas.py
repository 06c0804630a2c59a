"""The BLAS kernel choice: OPENBLAS_CORETYPE=Zen on Zen 4 only, never over the user's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nodeclf_cli.blas import CORETYPE, choose_kernels, first_processor, is_zen4

ZEN4_FLAGS = "fpu sse2 avx avx2 fma avx512f avx512dq avx512bw"


def cpuinfo(tmp_path: Path, vendor: str = "AuthenticAMD", family: int = 25, flags: str = ZEN4_FLAGS) -> Path:
    """A /proc/cpuinfo with two processors (only the first is read)."""
    block = f"processor\t: {{n}}\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: 17\nflags\t\t: {flags}\n"
    path = tmp_path / "cpuinfo"
    path.write_text(block.format(n=0) + "\n" + block.format(n=1) + "\n")
    return path


def test_zen4_gets_the_zen_kernels(tmp_path):
    environ: dict[str, str] = {}
    assert choose_kernels(environ, {}, cpuinfo(tmp_path)) == "Zen"
    assert environ == {CORETYPE: "Zen"}


@pytest.mark.parametrize(
    "processor",
    [
        {"family": 25, "flags": "fpu sse2 avx avx2 fma"},  # Zen 3: OpenBLAS picks Zen already
        {"family": 26},  # Zen 5: full-width AVX-512, not measured
        {"vendor": "GenuineIntel", "family": 6},  # Skylake-X and later: their own kernels
    ],
)
def test_other_processors_keep_openblass_choice(tmp_path, processor):
    environ: dict[str, str] = {}
    assert choose_kernels(environ, {}, cpuinfo(tmp_path, **processor)) is None
    assert environ == {}


def test_the_users_core_type_wins(tmp_path):
    environ = {CORETYPE: "SkylakeX"}
    assert choose_kernels(environ, {}, cpuinfo(tmp_path)) is None
    assert environ == {CORETYPE: "SkylakeX"}


def test_nothing_is_set_once_numpy_has_loaded(tmp_path):
    """OpenBLAS has read the environment by then: setting it would only mislead."""
    environ: dict[str, str] = {}
    assert choose_kernels(environ, {"numpy": object()}, cpuinfo(tmp_path)) is None
    assert environ == {}


def test_no_cpuinfo_means_no_choice(tmp_path):
    assert first_processor(tmp_path / "missing") == {}
    assert not is_zen4(tmp_path / "missing")


def test_the_command_loads_numpy_with_the_chosen_kernels():
    """``nodeclf`` (cli.main) sets the core type before numpy loads: OpenBLAS then
    runs the AVX2 kernels on Zen 4, and its own choice elsewhere."""
    script = (
        "import os, sys\n"
        "sys.argv = ['nodeclf', '--version']\n"
        "from nodeclf_cli import cli\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "import numpy, threadpoolctl\n"
        "blas = [i for i in threadpoolctl.threadpool_info() if i['internal_api'] == 'openblas']\n"
        "print(os.environ.get('OPENBLAS_CORETYPE'), blas[0]['architecture'] if blas else None)\n"
    )
    environ = {key: value for key, value in os.environ.items() if key != CORETYPE}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environ, check=True)
    coretype, architecture = done.stdout.split()[-2:]
    if is_zen4():
        assert coretype == "Zen"
        if architecture != "None":  # numpy on OpenBLAS
            assert architecture in ("Zen", "Haswell")
    else:
        assert coretype == "None"


def test_the_tests_run_on_the_kernels_the_command_runs_on():
    """tests/__init__.py chose them before numpy loaded: on Zen 4 only a core type the
    user set stops that, and numpy then runs OpenBLAS's AVX2 kernels."""
    import threadpoolctl

    from . import CHOSEN

    if is_zen4() and CHOSEN is None:
        assert CORETYPE in os.environ
    blas = [i for i in threadpoolctl.threadpool_info() if i["internal_api"] == "openblas"]
    if CHOSEN is not None and blas:
        assert blas[0]["architecture"] in ("Zen", "Haswell")
