"""cnncalc's version: what `cnncalc --version`, the HTML report and the package say."""

__version__ = "0.8.3"
