"""cnncalc: shapes, parameters, MACs, memory and receptive fields of ConvNet designs.

    >>> import cnncalc
    >>> cnncalc.plan("INPUT 32x32x3 -> CONV5-10 -> RELU").totals.params
    760

`import cnncalc` imports no deep-learning framework.
"""

from .errors import CnnCalcError, DesignError, DesignSyntaxError, SettingsError
from .planner import plan


def __getattr__(name: str):
    # Report is imported on first use: pydantic's model machinery would double the command line's start
    if name == "Report":
        from .report import Report

        return Report
    raise AttributeError(f"module 'cnncalc' has no attribute {name!r}")


__version__ = "0.2.0"
__all__ = ["plan", "Report", "CnnCalcError", "DesignError", "DesignSyntaxError", "SettingsError", "__version__"]
