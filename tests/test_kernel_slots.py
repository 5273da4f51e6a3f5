"""The kernel's named parameter slots are in the order the model lays theta out."""

from __future__ import annotations

from mkba import kernel
from mkba.model import COMPONENT_SLOTS, DOMAIN_SLOTS, GLOBAL_SLOTS, STREAM_SLOTS
from mkba.schema.interventions import EFFECT_QUANTITIES, INTERVENTION_QUANTITIES


def test_named_slots_follow_the_model_order() -> None:
    def idx(names: tuple[str, ...], prefix: str = "") -> list[int]:
        return [getattr(kernel, prefix + n.upper()) for n in names]

    assert idx(STREAM_SLOTS) == list(range(len(STREAM_SLOTS)))
    assert idx(COMPONENT_SLOTS) == [0, 1]
    assert idx(DOMAIN_SLOTS) == [0, 1, 2]
    assert idx(GLOBAL_SLOTS) == [0, 1]
    assert idx(EFFECT_QUANTITIES, "L_") == list(range(len(EFFECT_QUANTITIES)))
    assert [kernel.PER_PARTICIPANT, kernel.FIXED_PER_AREA_YEAR, kernel.I_OVERRUN] == [0, 1, 2]
    assert INTERVENTION_QUANTITIES == ("per_participant", "fixed_per_area_year", "overrun")
