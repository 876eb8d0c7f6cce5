from scout.v1 import findings_pb2 as _findings_pb2
from scout.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPORT_FORMAT_UNSPECIFIED: _ClassVar[ExportFormat]
    EXPORT_FORMAT_MARKDOWN: _ClassVar[ExportFormat]
    EXPORT_FORMAT_HTML: _ClassVar[ExportFormat]
    EXPORT_FORMAT_PDF: _ClassVar[ExportFormat]
    EXPORT_FORMAT_ZIP: _ClassVar[ExportFormat]
EXPORT_FORMAT_UNSPECIFIED: ExportFormat
EXPORT_FORMAT_MARKDOWN: ExportFormat
EXPORT_FORMAT_HTML: ExportFormat
EXPORT_FORMAT_PDF: ExportFormat
EXPORT_FORMAT_ZIP: ExportFormat

class GetReportRequest(_message.Message):
    __slots__ = ("session_id", "kind", "version")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    kind: _types_pb2.ReportKind
    version: int
    def __init__(self, session_id: _Optional[str] = ..., kind: _Optional[_Union[_types_pb2.ReportKind, str]] = ..., version: _Optional[int] = ...) -> None: ...

class GetReportResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: _types_pb2.Report
    def __init__(self, report: _Optional[_Union[_types_pb2.Report, _Mapping]] = ...) -> None: ...

class ListReportVersionsRequest(_message.Message):
    __slots__ = ("session_id", "kind", "page_size", "page_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    kind: _types_pb2.ReportKind
    page_size: int
    page_token: str
    def __init__(self, session_id: _Optional[str] = ..., kind: _Optional[_Union[_types_pb2.ReportKind, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListReportVersionsResponse(_message.Message):
    __slots__ = ("versions", "next_page_token")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[_types_pb2.Report]
    next_page_token: str
    def __init__(self, versions: _Optional[_Iterable[_Union[_types_pb2.Report, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListReportsRequest(_message.Message):
    __slots__ = ("session_id", "page_size", "page_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    page_size: int
    page_token: str
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListReportsResponse(_message.Message):
    __slots__ = ("reports", "next_page_token")
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[_types_pb2.Report]
    next_page_token: str
    def __init__(self, reports: _Optional[_Iterable[_Union[_types_pb2.Report, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PutReportRequest(_message.Message):
    __slots__ = ("session_id", "kind", "content", "request_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    kind: _types_pb2.ReportKind
    content: str
    request_id: str
    def __init__(self, session_id: _Optional[str] = ..., kind: _Optional[_Union[_types_pb2.ReportKind, str]] = ..., content: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class PutReportResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: _types_pb2.Report
    def __init__(self, report: _Optional[_Union[_types_pb2.Report, _Mapping]] = ...) -> None: ...

class ListSourcesRequest(_message.Message):
    __slots__ = ("session_id", "run_id", "page_size", "page_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    run_id: str
    page_size: int
    page_token: str
    def __init__(self, session_id: _Optional[str] = ..., run_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSourcesResponse(_message.Message):
    __slots__ = ("sources", "next_page_token", "run_id")
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.RepeatedCompositeFieldContainer[_types_pb2.Source]
    next_page_token: str
    run_id: str
    def __init__(self, sources: _Optional[_Iterable[_Union[_types_pb2.Source, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class GetFindingsRequest(_message.Message):
    __slots__ = ("session_id", "kind")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    kind: _types_pb2.ReportKind
    def __init__(self, session_id: _Optional[str] = ..., kind: _Optional[_Union[_types_pb2.ReportKind, str]] = ...) -> None: ...

class GetFindingsResponse(_message.Message):
    __slots__ = ("findings",)
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    findings: _containers.RepeatedCompositeFieldContainer[_findings_pb2.Findings]
    def __init__(self, findings: _Optional[_Iterable[_Union[_findings_pb2.Findings, _Mapping]]] = ...) -> None: ...

class ExportReportsRequest(_message.Message):
    __slots__ = ("session_id", "format")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    format: ExportFormat
    def __init__(self, session_id: _Optional[str] = ..., format: _Optional[_Union[ExportFormat, str]] = ...) -> None: ...

class ExportReportsResponse(_message.Message):
    __slots__ = ("file_name", "content_type", "chunk", "size_bytes")
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    file_name: str
    content_type: str
    chunk: bytes
    size_bytes: int
    def __init__(self, file_name: _Optional[str] = ..., content_type: _Optional[str] = ..., chunk: _Optional[bytes] = ..., size_bytes: _Optional[int] = ...) -> None: ...
