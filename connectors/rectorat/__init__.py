"""Rectorat — SIECLE BEE_ELEVES snapshots (inputs.md §1) → ELEVE_INSCRIT, ELEVE_SORTI.

See `connector.py` for the snapshot diff, `siecle.py` for the XML reading and
`pupil.py` for the validation of one pupil.
"""

from connectors.rectorat.connector import CONNECTOR, RectoratConnector
from connectors.rectorat.pupil import SOURCE, TOPIC, Pupil, motif_sortie, validate_eleve

__all__ = ["CONNECTOR", "SOURCE", "TOPIC", "Pupil", "RectoratConnector", "motif_sortie", "validate_eleve"]
