import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReportKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_KIND_UNSPECIFIED: _ClassVar[ReportKind]
    REPORT_KIND_MARKET: _ClassVar[ReportKind]
    REPORT_KIND_COMPETITION: _ClassVar[ReportKind]
    REPORT_KIND_PRICE: _ClassVar[ReportKind]
    REPORT_KIND_LEGAL: _ClassVar[ReportKind]
    REPORT_KIND_FINAL: _ClassVar[ReportKind]

class ReportSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_SOURCE_UNSPECIFIED: _ClassVar[ReportSource]
    REPORT_SOURCE_AGENT: _ClassVar[ReportSource]
    REPORT_SOURCE_CALLER: _ClassVar[ReportSource]

class SourceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SOURCE_KIND_UNSPECIFIED: _ClassVar[SourceKind]
    SOURCE_KIND_DOCUMENT: _ClassVar[SourceKind]
    SOURCE_KIND_WEB: _ClassVar[SourceKind]
REPORT_KIND_UNSPECIFIED: ReportKind
REPORT_KIND_MARKET: ReportKind
REPORT_KIND_COMPETITION: ReportKind
REPORT_KIND_PRICE: ReportKind
REPORT_KIND_LEGAL: ReportKind
REPORT_KIND_FINAL: ReportKind
REPORT_SOURCE_UNSPECIFIED: ReportSource
REPORT_SOURCE_AGENT: ReportSource
REPORT_SOURCE_CALLER: ReportSource
SOURCE_KIND_UNSPECIFIED: SourceKind
SOURCE_KIND_DOCUMENT: SourceKind
SOURCE_KIND_WEB: SourceKind

class Session(_message.Message):
    __slots__ = ("session_id", "owner", "labels", "create_time", "expire_time", "latest_run_id")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    LATEST_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    owner: str
    labels: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    latest_run_id: str
    def __init__(self, session_id: _Optional[str] = ..., owner: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., latest_run_id: _Optional[str] = ...) -> None: ...

class FileInfo(_message.Message):
    __slots__ = ("session_id", "file_name", "content_type", "size_bytes", "sha256", "create_time")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    file_name: str
    content_type: str
    size_bytes: int
    sha256: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, session_id: _Optional[str] = ..., file_name: _Optional[str] = ..., content_type: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Report(_message.Message):
    __slots__ = ("session_id", "kind", "name", "content", "size_bytes", "sha256", "update_time", "run_id", "source", "author", "sources", "sources_run_id", "version")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    SOURCES_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    kind: ReportKind
    name: str
    content: str
    size_bytes: int
    sha256: str
    update_time: _timestamp_pb2.Timestamp
    run_id: str
    source: ReportSource
    author: str
    sources: _containers.RepeatedCompositeFieldContainer[Source]
    sources_run_id: str
    version: int
    def __init__(self, session_id: _Optional[str] = ..., kind: _Optional[_Union[ReportKind, str]] = ..., name: _Optional[str] = ..., content: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., run_id: _Optional[str] = ..., source: _Optional[_Union[ReportSource, str]] = ..., author: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[Source, _Mapping]]] = ..., sources_run_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class Source(_message.Message):
    __slots__ = ("source_id", "run_id", "kind", "file_name", "page", "section", "url", "title", "excerpt", "start_offset", "end_offset", "retrieve_time", "sha256", "first_read_by")
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SECTION_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    EXCERPT_FIELD_NUMBER: _ClassVar[int]
    START_OFFSET_FIELD_NUMBER: _ClassVar[int]
    END_OFFSET_FIELD_NUMBER: _ClassVar[int]
    RETRIEVE_TIME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    FIRST_READ_BY_FIELD_NUMBER: _ClassVar[int]
    source_id: str
    run_id: str
    kind: SourceKind
    file_name: str
    page: int
    section: str
    url: str
    title: str
    excerpt: str
    start_offset: int
    end_offset: int
    retrieve_time: _timestamp_pb2.Timestamp
    sha256: str
    first_read_by: ReportKind
    def __init__(self, source_id: _Optional[str] = ..., run_id: _Optional[str] = ..., kind: _Optional[_Union[SourceKind, str]] = ..., file_name: _Optional[str] = ..., page: _Optional[int] = ..., section: _Optional[str] = ..., url: _Optional[str] = ..., title: _Optional[str] = ..., excerpt: _Optional[str] = ..., start_offset: _Optional[int] = ..., end_offset: _Optional[int] = ..., retrieve_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sha256: _Optional[str] = ..., first_read_by: _Optional[_Union[ReportKind, str]] = ...) -> None: ...
