import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from scout.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATE_UNSPECIFIED: _ClassVar[RunState]
    RUN_STATE_QUEUED: _ClassVar[RunState]
    RUN_STATE_RUNNING: _ClassVar[RunState]
    RUN_STATE_SUCCEEDED: _ClassVar[RunState]
    RUN_STATE_FAILED: _ClassVar[RunState]
    RUN_STATE_CANCELLED: _ClassVar[RunState]

class AgentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGENT_STATE_UNSPECIFIED: _ClassVar[AgentState]
    AGENT_STATE_PENDING: _ClassVar[AgentState]
    AGENT_STATE_RUNNING: _ClassVar[AgentState]
    AGENT_STATE_SUCCEEDED: _ClassVar[AgentState]
    AGENT_STATE_FAILED: _ClassVar[AgentState]
    AGENT_STATE_CANCELLED: _ClassVar[AgentState]

class ProgressEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROGRESS_EVENT_TYPE_UNSPECIFIED: _ClassVar[ProgressEventType]
    PROGRESS_EVENT_TYPE_RUN_STARTED: _ClassVar[ProgressEventType]
    PROGRESS_EVENT_TYPE_AGENT_STARTED: _ClassVar[ProgressEventType]
    PROGRESS_EVENT_TYPE_TOOL_CALL: _ClassVar[ProgressEventType]
    PROGRESS_EVENT_TYPE_REPORT_SAVED: _ClassVar[ProgressEventType]
    PROGRESS_EVENT_TYPE_AGENT_FINISHED: _ClassVar[ProgressEventType]
    PROGRESS_EVENT_TYPE_AGENT_FAILED: _ClassVar[ProgressEventType]
    PROGRESS_EVENT_TYPE_RUN_COMPLETED: _ClassVar[ProgressEventType]
    PROGRESS_EVENT_TYPE_RUN_FAILED: _ClassVar[ProgressEventType]
    PROGRESS_EVENT_TYPE_RUN_CANCELLED: _ClassVar[ProgressEventType]
    PROGRESS_EVENT_TYPE_HEARTBEAT: _ClassVar[ProgressEventType]
    PROGRESS_EVENT_TYPE_RUN_QUEUED: _ClassVar[ProgressEventType]
RUN_STATE_UNSPECIFIED: RunState
RUN_STATE_QUEUED: RunState
RUN_STATE_RUNNING: RunState
RUN_STATE_SUCCEEDED: RunState
RUN_STATE_FAILED: RunState
RUN_STATE_CANCELLED: RunState
AGENT_STATE_UNSPECIFIED: AgentState
AGENT_STATE_PENDING: AgentState
AGENT_STATE_RUNNING: AgentState
AGENT_STATE_SUCCEEDED: AgentState
AGENT_STATE_FAILED: AgentState
AGENT_STATE_CANCELLED: AgentState
PROGRESS_EVENT_TYPE_UNSPECIFIED: ProgressEventType
PROGRESS_EVENT_TYPE_RUN_STARTED: ProgressEventType
PROGRESS_EVENT_TYPE_AGENT_STARTED: ProgressEventType
PROGRESS_EVENT_TYPE_TOOL_CALL: ProgressEventType
PROGRESS_EVENT_TYPE_REPORT_SAVED: ProgressEventType
PROGRESS_EVENT_TYPE_AGENT_FINISHED: ProgressEventType
PROGRESS_EVENT_TYPE_AGENT_FAILED: ProgressEventType
PROGRESS_EVENT_TYPE_RUN_COMPLETED: ProgressEventType
PROGRESS_EVENT_TYPE_RUN_FAILED: ProgressEventType
PROGRESS_EVENT_TYPE_RUN_CANCELLED: ProgressEventType
PROGRESS_EVENT_TYPE_HEARTBEAT: ProgressEventType
PROGRESS_EVENT_TYPE_RUN_QUEUED: ProgressEventType

class TokenUsage(_message.Message):
    __slots__ = ("input_tokens", "output_tokens", "total_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_WRITE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., cache_read_tokens: _Optional[int] = ..., cache_write_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ...) -> None: ...

class AgentStatus(_message.Message):
    __slots__ = ("kind", "state", "error", "usage", "start_time", "end_time", "invocations")
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    INVOCATIONS_FIELD_NUMBER: _ClassVar[int]
    kind: _types_pb2.ReportKind
    state: AgentState
    error: str
    usage: TokenUsage
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    invocations: int
    def __init__(self, kind: _Optional[_Union[_types_pb2.ReportKind, str]] = ..., state: _Optional[_Union[AgentState, str]] = ..., error: _Optional[str] = ..., usage: _Optional[_Union[TokenUsage, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., invocations: _Optional[int] = ...) -> None: ...

class Run(_message.Message):
    __slots__ = ("session_id", "run_id", "state", "agents", "usage", "error", "create_time", "update_time", "end_time", "last_sequence", "model_provider", "file_names", "request_id", "brief", "queue_position")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    MODEL_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    FILE_NAMES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BRIEF_FIELD_NUMBER: _ClassVar[int]
    QUEUE_POSITION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    run_id: str
    state: RunState
    agents: _containers.RepeatedCompositeFieldContainer[AgentStatus]
    usage: TokenUsage
    error: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    last_sequence: int
    model_provider: str
    file_names: _containers.RepeatedScalarFieldContainer[str]
    request_id: str
    brief: ResearchBrief
    queue_position: int
    def __init__(self, session_id: _Optional[str] = ..., run_id: _Optional[str] = ..., state: _Optional[_Union[RunState, str]] = ..., agents: _Optional[_Iterable[_Union[AgentStatus, _Mapping]]] = ..., usage: _Optional[_Union[TokenUsage, _Mapping]] = ..., error: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_sequence: _Optional[int] = ..., model_provider: _Optional[str] = ..., file_names: _Optional[_Iterable[str]] = ..., request_id: _Optional[str] = ..., brief: _Optional[_Union[ResearchBrief, _Mapping]] = ..., queue_position: _Optional[int] = ...) -> None: ...

class ResearchBrief(_message.Message):
    __slots__ = ("questions", "language", "agents", "web_search", "max_tokens", "focus", "geography")
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    WEB_SEARCH_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    FOCUS_FIELD_NUMBER: _ClassVar[int]
    GEOGRAPHY_FIELD_NUMBER: _ClassVar[int]
    questions: _containers.RepeatedScalarFieldContainer[str]
    language: str
    agents: _containers.RepeatedScalarFieldContainer[_types_pb2.ReportKind]
    web_search: bool
    max_tokens: int
    focus: str
    geography: str
    def __init__(self, questions: _Optional[_Iterable[str]] = ..., language: _Optional[str] = ..., agents: _Optional[_Iterable[_Union[_types_pb2.ReportKind, str]]] = ..., web_search: _Optional[bool] = ..., max_tokens: _Optional[int] = ..., focus: _Optional[str] = ..., geography: _Optional[str] = ...) -> None: ...

class StartResearchRequest(_message.Message):
    __slots__ = ("session_id", "request_id", "file_names", "brief")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_NAMES_FIELD_NUMBER: _ClassVar[int]
    BRIEF_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    request_id: str
    file_names: _containers.RepeatedScalarFieldContainer[str]
    brief: ResearchBrief
    def __init__(self, session_id: _Optional[str] = ..., request_id: _Optional[str] = ..., file_names: _Optional[_Iterable[str]] = ..., brief: _Optional[_Union[ResearchBrief, _Mapping]] = ...) -> None: ...

class StartResearchResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: Run
    def __init__(self, run: _Optional[_Union[Run, _Mapping]] = ...) -> None: ...

class GetRunRequest(_message.Message):
    __slots__ = ("session_id", "run_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    run_id: str
    def __init__(self, session_id: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class GetRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: Run
    def __init__(self, run: _Optional[_Union[Run, _Mapping]] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("session_id", "page_size", "page_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    page_size: int
    page_token: str
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ("runs", "next_page_token")
    RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[Run]
    next_page_token: str
    def __init__(self, runs: _Optional[_Iterable[_Union[Run, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelRunRequest(_message.Message):
    __slots__ = ("session_id", "run_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    run_id: str
    def __init__(self, session_id: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class CancelRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: Run
    def __init__(self, run: _Optional[_Union[Run, _Mapping]] = ...) -> None: ...

class ProgressEvent(_message.Message):
    __slots__ = ("session_id", "run_id", "sequence", "create_time", "type", "agent", "display_message", "tool_name", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    run_id: str
    sequence: int
    create_time: _timestamp_pb2.Timestamp
    type: ProgressEventType
    agent: _types_pb2.ReportKind
    display_message: str
    tool_name: str
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, session_id: _Optional[str] = ..., run_id: _Optional[str] = ..., sequence: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., type: _Optional[_Union[ProgressEventType, str]] = ..., agent: _Optional[_Union[_types_pb2.ReportKind, str]] = ..., display_message: _Optional[str] = ..., tool_name: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class StreamProgressRequest(_message.Message):
    __slots__ = ("session_id", "run_id", "after_sequence")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    run_id: str
    after_sequence: int
    def __init__(self, session_id: _Optional[str] = ..., run_id: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class StreamProgressResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: ProgressEvent
    def __init__(self, event: _Optional[_Union[ProgressEvent, _Mapping]] = ...) -> None: ...

class AskQuestionRequest(_message.Message):
    __slots__ = ("session_id", "question", "request_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    question: str
    request_id: str
    def __init__(self, session_id: _Optional[str] = ..., question: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class AskQuestionResponse(_message.Message):
    __slots__ = ("progress", "text_delta", "answer")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    TEXT_DELTA_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    progress: str
    text_delta: str
    answer: QuestionAnswer
    def __init__(self, progress: _Optional[str] = ..., text_delta: _Optional[str] = ..., answer: _Optional[_Union[QuestionAnswer, _Mapping]] = ...) -> None: ...

class QuestionAnswer(_message.Message):
    __slots__ = ("question_id", "question", "answer", "sources", "create_time", "request_id", "author")
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    question_id: str
    question: str
    answer: str
    sources: _containers.RepeatedCompositeFieldContainer[_types_pb2.Source]
    create_time: _timestamp_pb2.Timestamp
    request_id: str
    author: str
    def __init__(self, question_id: _Optional[str] = ..., question: _Optional[str] = ..., answer: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[_types_pb2.Source, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ..., author: _Optional[str] = ...) -> None: ...

class ListQuestionsRequest(_message.Message):
    __slots__ = ("session_id", "page_size", "page_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    page_size: int
    page_token: str
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListQuestionsResponse(_message.Message):
    __slots__ = ("answers", "next_page_token")
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    answers: _containers.RepeatedCompositeFieldContainer[QuestionAnswer]
    next_page_token: str
    def __init__(self, answers: _Optional[_Iterable[_Union[QuestionAnswer, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
