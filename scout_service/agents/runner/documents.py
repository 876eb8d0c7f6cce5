"""Document preparation: the run's files resolved, read, extracted and indexed."""

from __future__ import annotations

from collections.abc import Sequence

from scout_service.agents.runner.base import _RunnerCore
from scout_service.documents import DocumentError, ExtractedDocument
from scout_service.documents.isolation import ExtractorClosed
from scout_service.domain import FileInfo
from scout_service.errors import FailedPrecondition, NotFound, Unavailable, limit_exceeded
from scout_service.research.corpus import Corpus, build_corpus
from scout_service.store.base import every_item


class _Documents(_RunnerCore):
    """Resolves a run's file names and reads them into a corpus."""

    async def _resolve_files(self, session_id: str, file_names: Sequence[str]) -> list[str]:
        limit = self._settings.max_files_per_run
        names = list(dict.fromkeys(file_names))
        if not names:
            files = every_item(lambda token: self._store.list_files(
                session_id, page_size=100, page_token=token))
            async for info in files:
                names.append(info.name)
                if len(names) > limit:
                    break
        if not names:
            raise FailedPrecondition(
                f"session {session_id} has no uploaded documents: upload the business plan "
                "(PDF, Word .docx, Markdown or text) before starting research",
                reason="NO_DOCUMENTS",
            )
        if len(names) > limit:
            raise limit_exceeded(
                f"a research run reads at most {limit} files; name the ones to analyse in "
                "file_names",
                reason="TOO_MANY_FILES", limit="files per research run", value=limit,
            )
        return names

    async def _read_documents(self, session_id: str, names: Sequence[str]) -> Corpus:
        """The run's files indexed for search (``FailedPrecondition`` for a bad one)."""

        def missing(name: str) -> FailedPrecondition:
            return FailedPrecondition(
                f"file {name!r} is not in session {session_id}; upload it, or leave "
                "file_names empty to analyse every uploaded file",
                reason="FILE_NOT_FOUND",
                metadata={"file_name": name},
            )

        async def get_file(name: str) -> FileInfo:
            try:
                return await self._store.get_file(session_id, name)
            except NotFound:
                raise missing(name) from None

        async def read_file(name: str) -> tuple[FileInfo, bytes]:
            try:
                return await self._store.read_file(session_id, name)
            except NotFound:
                raise missing(name) from None

        async def extract(data: bytes, name: str) -> ExtractedDocument:
            try:
                return await self.documents.extract(data, name)
            except DocumentError as exc:
                raise FailedPrecondition(
                    exc.message, reason=exc.reason, metadata={"file_name": name}
                ) from None
            except ExtractorClosed:
                raise Unavailable("this replica is shutting down; retry on another",
                                  reason="REPLICA_SHUTTING_DOWN") from None

        return await build_corpus(names, cache=self.corpora, get_file=get_file,
                                  read_file=read_file, extract=extract)
