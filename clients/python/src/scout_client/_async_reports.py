"""`AsyncScoutClient`'s ReportService methods: reports, versions, sources, findings, export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import overload

from scout.v1 import findings_pb2, report_pb2, types_pb2
from scout_client import _requests as rpc
from scout_client._async_base import AsyncBase
from scout_client._channel import DEFAULT, Timeout
from scout_client._files import Destination, ExportInfo
from scout_client._receivers import ExportReceiver

__all__ = ["AsyncReportMethods"]


class AsyncReportMethods(AsyncBase):
    """Reports and their versions, a run's sources and findings, the dossier's export."""

    # -- reports -----------------------------------------------------------

    async def get_report(
        self, session_id: str, kind: int | str, *, version: int = 0,
        timeout: Timeout = DEFAULT,
    ) -> types_pb2.Report:
        """Return one report with its Markdown content: the latest version or `version`.

        `kind` is a ReportKind value or a name: "market", "market_report",
        "REPORT_KIND_MARKET" ... (see `scout_client.report_kind`). A version
        that was pruned or never stored raises NotFoundError.
        """
        return await self._call(rpc.get_report(session_id, kind, version), timeout)

    async def list_report_versions(
        self,
        session_id: str,
        kind: int | str,
        page_size: int = 0,
        page_token: str = "",
        *,
        timeout: Timeout = DEFAULT,
    ) -> report_pb2.ListReportVersionsResponse:
        """Return one page of a report's stored versions, newest first, without content."""
        return await self._call(
            rpc.list_report_versions(session_id, kind, page_size, page_token), timeout)

    def iter_report_versions(
        self, session_id: str, kind: int | str, page_size: int = 0, *,
        timeout: Timeout = DEFAULT,
    ) -> AsyncIterator[types_pb2.Report]:
        """Yield every stored version of a report, newest first (without content)."""
        fetch = partial(self.list_report_versions, session_id, kind, page_size,
                        timeout=timeout)
        return rpc.walk_pages_async(fetch, lambda page: page.versions)

    async def list_reports(
        self,
        session_id: str,
        page_size: int = 0,
        page_token: str = "",
        *,
        timeout: Timeout = DEFAULT,
    ) -> report_pb2.ListReportsResponse:
        """Return one page of the session's reports, without their content."""
        return await self._call(rpc.list_reports(session_id, page_size, page_token), timeout)

    def iter_reports(
        self, session_id: str, page_size: int = 0, *, timeout: Timeout = DEFAULT
    ) -> AsyncIterator[types_pb2.Report]:
        """Yield all reports of the session (without content)."""
        fetch = partial(self.list_reports, session_id, page_size, timeout=timeout)
        return rpc.walk_pages_async(fetch, lambda page: page.reports)

    async def list_sources(
        self,
        session_id: str,
        run_id: str = "",
        page_size: int = 0,
        page_token: str = "",
        *,
        timeout: Timeout = DEFAULT,
    ) -> report_pb2.ListSourcesResponse:
        """Return one page of a run's sources (the latest run's when run_id is empty)."""
        return await self._call(
            rpc.list_sources(session_id, run_id, page_size, page_token), timeout)

    def iter_sources(
        self, session_id: str, run_id: str = "", page_size: int = 0, *,
        timeout: Timeout = DEFAULT,
    ) -> AsyncIterator[types_pb2.Source]:
        """Yield every source of a run (S1, S2, ...), the latest run's by default."""
        fetch = partial(self.list_sources, session_id, run_id, page_size, timeout=timeout)
        return rpc.walk_pages_async(fetch, lambda page: page.sources)

    async def get_findings(
        self, session_id: str, kind: int | str | None = None, *, timeout: Timeout = DEFAULT
    ) -> list[findings_pb2.Findings]:
        """Return the session's typed findings (every kind's, or one kind's).

        Each value carries the source ids of its run; resolve them with
        ``iter_sources(session_id, findings.run_id)``.
        """
        found = await self._call(rpc.get_findings(session_id, kind), timeout)
        return list(found.findings)

    async def put_report(
        self,
        session_id: str,
        kind: int | str,
        content: str,
        request_id: str | None = None,
        *,
        timeout: Timeout = DEFAULT,
    ) -> types_pb2.Report:
        """Store a report (e.g. an edited one) as its next version; returns it without content.

        The version it follows stays readable (`get_report(..., version=)`).
        Safe to retry, like create_session: a request_id is always sent.
        """
        call = rpc.put_report(session_id, kind, content, request_id)
        return await self._call(call, timeout)

    @overload
    async def export_reports(
        self,
        session_id: str,
        format: int | str,
        dest: None = None,
        *,
        timeout: Timeout = DEFAULT,
    ) -> bytes: ...

    @overload
    async def export_reports(
        self,
        session_id: str,
        format: int | str,
        dest: Destination,
        *,
        timeout: Timeout = DEFAULT,
    ) -> ExportInfo: ...

    async def export_reports(
        self,
        session_id: str,
        format: int | str,
        dest: Destination | None = None,
        *,
        timeout: Timeout = DEFAULT,
    ) -> bytes | ExportInfo:
        """Export the session's reports as one document: its bytes, or where it went.

        `format` is "md", "html", "pdf", "zip" or an ExportFormat value. With
        `dest` (a path or binary file object) the document is streamed there
        and the server's suggested file name, content type and size return.
        """
        request = rpc.export_reports(session_id, format)
        receiver = ExportReceiver(dest)
        with receiver:
            call = self._stream(self._stubs.reports.ExportReports, request, timeout)
            async for response in call:
                receiver.receive(response)
        return receiver.result()
