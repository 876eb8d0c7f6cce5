"""``DynamoStore``: the Store on one DynamoDB table (layout in ``_keys``/``_codec``).

Every boto3 call runs on a bounded thread pool (never on the event loop) and
every botocore error is translated into ``scout_service.errors`` — both in
the base class, ``_access.TableAccess``. The rules this module keeps:

- Expired means gone: each read drops items whose ``ttl <= now`` in code
  (DynamoDB removes them lazily, days later).
- Things created inside a session are written in a transaction that checks
  the SESSION item is live and still has the ttl the child copies, so
  nothing lands in a dead session and children expire with their session.
- Blobs of any size: chunks first, the metadata item last (a reader never
  sees a partial blob), a fresh ``blob_id`` per version (versions never mix),
  the replaced version's chunks deleted afterwards — except a report's: each
  report version has its own REPORTV# item beside the latest (REPORT#), and
  its chunks go only when the version bound prunes it.

The store is split by entity, each part a mixin over ``core.DynamoBase``::

    dynamodb/
        core.py      DynamoBase: client, pools, limits, health probe, table admin
        sessions.py  create / get / list / extend / delete sessions
        blobs.py     chunked blobs shared by files and reports
        files.py     uploads under the session's file limits, reads, listings
        reports.py   reports and their versions
        research.py  sources, findings and questions of a run
        runs.py      runs (the active-run slot, versions) and progress events
"""

from __future__ import annotations

from scout_service.store._access import make_client
from scout_service.store.dynamodb.core import (
    PROBE_TIMEOUT_S,
    UPLOADS_DRAIN_S,
    WRITE_ATTEMPTS,
    DynamoBase,
)
from scout_service.store.dynamodb.files import UPLOAD_WRITES_IN_FLIGHT, FilesMixin
from scout_service.store.dynamodb.reports import ReportsMixin
from scout_service.store.dynamodb.research import ResearchMixin
from scout_service.store.dynamodb.runs import RunsMixin
from scout_service.store.dynamodb.sessions import SessionsMixin

__all__ = [
    "PROBE_TIMEOUT_S",
    "UPLOADS_DRAIN_S",
    "UPLOAD_WRITES_IN_FLIGHT",
    "WRITE_ATTEMPTS",
    "DynamoStore",
    "make_client",
]


class DynamoStore(SessionsMixin, FilesMixin, ReportsMixin, ResearchMixin, RunsMixin, DynamoBase):
    """The Store on one DynamoDB table (see the package docstring)."""
