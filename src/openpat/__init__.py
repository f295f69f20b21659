"""openpat: an open platform for psychedelic-assisted therapy research and clinics."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("openpat")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
