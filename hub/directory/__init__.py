"""The directory (inputs.md §6): load and check the file, look up, publish, route."""

from hub.directory.load import DirectoryError, load_directory, parse_directory
from hub.directory.lookup import DirectoryIndex, from_entries, to_entries
from hub.directory.model import DirectoryData
from hub.directory.routing import Routing, route, territory_commune

__all__ = [
    "DirectoryData",
    "DirectoryError",
    "DirectoryIndex",
    "Routing",
    "from_entries",
    "load_directory",
    "parse_directory",
    "route",
    "territory_commune",
    "to_entries",
]
