"""Accounts of the web interface and HTTP API (`hub accounts`, used by `hub serve`)."""

from hub.accounts.store import (
    CASE_ROLES,
    COUNSELLOR_ROLES,
    CTI_ETAT,
    CTI_REGION,
    INSTITUTION,
    MISSION_LOCALE,
    OBSERVATOIRE,
    OPERATEUR,
    ROLES,
    Account,
    AccountStore,
    store_path,
)

__all__ = [
    "CASE_ROLES",
    "COUNSELLOR_ROLES",
    "CTI_ETAT",
    "CTI_REGION",
    "INSTITUTION",
    "MISSION_LOCALE",
    "OBSERVATOIRE",
    "OPERATEUR",
    "ROLES",
    "Account",
    "AccountStore",
    "store_path",
]
