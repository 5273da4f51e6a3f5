"""The per-area outputs reach the kernel as 1-D views with element steps
(:func:`mkba.kernel.area_outputs`), so that numba compiles one kernel for every layout a run
produces (issue 17, target 9: each extra layout was another 20-second compile)."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from mkba.kernel import area_outputs


def _layouts() -> dict[str, np.ndarray]:
    whole_f = np.zeros((50, 7), order="F")  # one chunk of a column-major outcome array
    rows_f = np.zeros((120, 7), order="F")[30:80]  # a chunk's rows of it
    c = np.zeros((50, 7))  # the raw path's sums
    one_area = np.zeros((120, 1), order="F")[10:60]  # a one-area scenario (C- and F-contiguous)
    single = np.zeros((120, 7), order="F")[5:6]  # a chunk of one draw
    f32 = np.zeros((120, 7), dtype=np.float32, order="F")[30:80]
    return {
        "whole_f": whole_f,
        "rows_f": rows_f,
        "c": c,
        "one_area": one_area,
        "single": single,
        "f32": f32,
    }


@pytest.mark.parametrize("name", list(_layouts()))
def test_every_element_is_addressed_by_draw_and_area_steps(name: str) -> None:
    x, y = _layouts()[name], _layouts()[name]  # the same layout twice, as Outcomes has them
    fb, fc, di, da = area_outputs(x, y)
    n, a = x.shape
    for i in range(n):
        for j in range(a):
            fb[i * di + j * da] = 1000 * i + j
            fc[i * di + j * da] = -(1000 * i + j)
    expected = 1000 * np.arange(n)[:, None] + np.arange(a)[None, :]
    assert np.array_equal(x, expected)
    assert np.array_equal(y, -expected)


def test_all_float64_layouts_are_one_numba_type() -> None:
    types = {
        name: numba.typeof(area_outputs(x, _layouts()[name])[0])
        for name, x in _layouts().items()
        if x.dtype == np.float64
    }
    assert len(set(types.values())) == 1, types
    assert str(next(iter(types.values()))) == "array(float64, 1d, C)"


def test_mismatched_outputs_are_refused() -> None:
    with pytest.raises(ValueError, match="same shape and layout"):
        area_outputs(np.zeros((4, 3)), np.zeros((4, 3), order="F"))
    with pytest.raises(ValueError, match="same dtype"):
        area_outputs(np.zeros((4, 3)), np.zeros((4, 3), dtype=np.float32))


def test_omp_wait_policy_defaults_to_passive_and_the_user_setting_wins() -> None:
    """mkba.kernel makes libgomp's idle threads sleep instead of spinning unless the user
    chose otherwise (see the comment there; the numbers do not depend on it)."""
    import os
    import subprocess
    import sys

    code = "import os, mkba.kernel; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "ACTIVE"
