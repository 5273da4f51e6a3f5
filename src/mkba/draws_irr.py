"""The IRR of every draw of a run computed in draw order on a thread of its own, so that
``draws.parquet``'s writer can write each row group as soon as the IRR of its draws is known
(instead of waiting for the IRR of every draw before its first row group).

The numbers are those of :func:`mkba.decide.irr.run_irr`: :func:`mkba.decide.irr.irr` computes
blocks of :data:`IRR_BLOCK` rows from the first row on, each block on its own (its own grid
product and bisection, which stops when every bracket of the block is narrow); here it is
called on consecutive pieces of whole blocks, so every block holds the same rows as there.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from mkba.decide.irr import IrrResult, irr

if TYPE_CHECKING:
    from mkba.engine import Run

IRR_BLOCK = 4096
"""Rows per block of :func:`mkba.decide.irr.irr` (its default ``chunk``; a test holds them
equal)."""

PIECE_BLOCKS = 16
"""Blocks per piece computed before the writer is told (65,536 rows: one row group of
``draws.parquet``)."""


class IrrStopped(Exception):
    """The IRR thread was stopped (:meth:`IrrInOrder.stop`) before the rows asked for."""


class IrrInOrder:
    """The IRR of ``run`` computed piece by piece, in draw order, on a thread started by
    :meth:`start`, into :attr:`result` (NaN and 0 until computed). :meth:`wait_rows` waits until
    the rows below ``hi`` are done; :meth:`finish` waits for all and returns the result, which
    it also caches on the run (as :func:`mkba.decide.irr.run_irr` does)."""

    def __init__(self, run: Run) -> None:
        m = run.model
        self._run = run
        self._flow = run.outcomes.flow
        self._offsets = m.years.astype(float) - float(m.spec.scenario.base_year)
        n = self._flow.shape[0]
        self.result = IrrResult(np.full(n, np.nan), np.zeros(n, dtype=np.int64))
        self._done = 0
        self._error: BaseException | None = None
        self._stopped = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._compute, name="mkba-irr", daemon=True)

    def start(self) -> IrrInOrder:
        self._thread.start()
        return self

    def _compute(self) -> None:
        n = self._flow.shape[0]
        step = IRR_BLOCK * PIECE_BLOCKS
        try:
            for lo in range(0, n, step):
                with self._cond:
                    if self._stopped:
                        return
                hi = min(n, lo + step)
                part = irr(self._flow[lo:hi], self._offsets)  # whole blocks from ``lo``
                self.result.irr[lo:hi] = part.irr
                self.result.roots[lo:hi] = part.roots
                with self._cond:
                    self._done = hi
                    self._cond.notify_all()
        except BaseException as e:  # handed to the waiting threads
            with self._cond:
                self._error = e
                self._cond.notify_all()

    def wait_rows(self, hi: int) -> None:
        """Wait until the IRR of the rows below ``hi`` is computed; raise the IRR thread's
        error, or :class:`IrrStopped` if it was stopped first."""
        with self._cond:
            self._cond.wait_for(lambda: self._done >= hi or self._error is not None or self._stopped)
            if self._done >= hi:  # these rows are done, whatever came after them
                return
            if self._error is not None:
                raise IrrStopped("the IRR failed") from self._error
            raise IrrStopped("the IRR was stopped")

    def stop(self) -> None:
        """Stop after the piece being computed, and wait for the thread."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join()

    def finish(self) -> IrrResult:
        """Every draw's IRR (waits for the thread; raises its error)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self._done < self._flow.shape[0]:
            raise IrrStopped("the IRR was stopped")
        object.__setattr__(self._run, "_irr", self.result)  # run_irr finds it
        return self.result
