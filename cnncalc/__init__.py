"""cnncalc: shapes, parameters, MACs, memory and receptive fields of ConvNet designs.

    >>> import cnncalc
    >>> cnncalc.plan("INPUT 32x32x3 -> CONV5-10 -> RELU").totals.params
    760

`import cnncalc` imports no deep-learning framework.
"""

from .errors import CnnCalcError, DesignError, DesignSyntaxError, SettingsError
from .planner import plan
from .report import Report

__version__ = "0.1.0"
__all__ = ["plan", "Report", "CnnCalcError", "DesignError", "DesignSyntaxError", "SettingsError", "__version__"]
