"""What the models built on a :class:`~seqlab.models.esn.reservoir.Reservoir` share
(:class:`~seqlab.models.esn.ESN`, :class:`~seqlab.models.esn.ESNClassifier`): the
reservoir's arguments, taken as keyword options, and the config and repr made of them and
of the readout's arguments."""

from __future__ import annotations

from typing import Any, ClassVar

from seqlab._options import given_options, spell_out_options
from seqlab.models.esn.reservoir import RESERVOIR_DEFAULTS, Reservoir, ReservoirOptions

__all__ = ["ReservoirModel"]


class ReservoirModel:
    """Base class: a reservoir (``self.reservoir``) and a readout.

    A subclass's constructor takes the reservoir's size and spectral radius first
    (``units``, ``spectral_radius``: the model's own defaults), the readout's arguments,
    keyword-only, and the rest of the reservoir's as ``**reservoir:
    Unpack[ReservoirOptions]``, with the defaults :attr:`reservoir_defaults` (the
    :class:`Reservoir`'s unless the model changes some); its signature spells them out
    (``inspect.signature``, ``help()``, ``--set``). It checks its own arguments, then calls
    :meth:`_init_reservoir`.
    """

    #: The defaults of the reservoir's arguments for this model.
    reservoir_defaults: ClassVar[ReservoirOptions] = RESERVOIR_DEFAULTS
    reservoir: Reservoir
    config: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spell_out_options(cls, ReservoirOptions, cls.reservoir_defaults)

    def _init_reservoir(
        self,
        units: int,
        spectral_radius: float,
        options: ReservoirOptions,
        readout: dict[str, Any],
    ) -> None:
        """Build ``self.reservoir`` from ``units``, ``spectral_radius`` and the constructor's
        ``options`` (the missing ones from :attr:`reservoir_defaults`; an unknown keyword is
        the ``TypeError`` Python gives) and record ``self.config``: the reservoir's
        arguments, then the ``readout``'s."""
        owner = f"{type(self).__init__.__qualname__}()"  # as Python names it
        options = given_options(owner, options, self.reservoir_defaults)
        self.reservoir = Reservoir(units, spectral_radius, **options)
        arguments = {k: v for k, v in self.reservoir.config.items() if k != "input_dim"}
        self.config = {**arguments, **readout}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({args})"
