"""The export builder: reads the labels that count (source), arranges them (layout, ids, aggregate, clips),
writes the files (writers, manifest). exports.services.export_build runs it."""

from .run import build_folder
from .source import DataChanged

__all__ = ["DataChanged", "build_folder"]
