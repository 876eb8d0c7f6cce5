"""Server reflection that keeps the .proto comments.

The stock reflection servicer rebuilds each file descriptor from the
generated modules, which carry no comments, so ``grpcurl describe`` would
show bare fields. ``make protos`` also writes ``scout/v1/descriptor_set.binpb``
(the same files compiled with their source info); this servicer answers with
those documented descriptors for Scout's files and the stock ones otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from typing import Any

from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc

DESCRIPTOR_SET = "descriptor_set.binpb"


def documented_files() -> dict[str, bytes]:
    """File name → serialized FileDescriptorProto with comments (source info)."""
    data = resources.files("scout.v1").joinpath(DESCRIPTOR_SET).read_bytes()
    fds = descriptor_pb2.FileDescriptorSet.FromString(data)
    return {f.name: f.SerializeToString() for f in fds.file}


class DocumentedReflectionServicer(reflection.aio.ReflectionServicer):  # type: ignore[misc]
    """grpc.reflection.v1alpha with comments in Scout's descriptors."""

    def __init__(self, service_names: Iterable[str], documented: dict[str, bytes]) -> None:
        super().__init__(service_names)
        self._documented = documented

    def _with_docs(self, response: Any) -> Any:
        if response.HasField("file_descriptor_response"):
            protos = response.file_descriptor_response.file_descriptor_proto
            for i, raw in enumerate(protos):
                name = descriptor_pb2.FileDescriptorProto.FromString(raw).name
                if name in self._documented:
                    protos[i] = self._documented[name]
        return response

    def _file_by_filename(self, request: Any, filename: str) -> Any:
        return self._with_docs(super()._file_by_filename(request, filename))

    def _file_containing_symbol(self, request: Any, fully_qualified_name: str) -> Any:
        return self._with_docs(super()._file_containing_symbol(request, fully_qualified_name))

    def _file_containing_extension(
        self, request: Any, containing_type: str, extension_number: int
    ) -> Any:
        return self._with_docs(
            super()._file_containing_extension(request, containing_type, extension_number)
        )


def enable(service_names: Iterable[str], server: Any) -> None:
    """Add documented reflection for ``service_names`` (plus reflection itself).

    ``server``: a ``grpc.aio.Server``, or the ``DecodeGuard`` in front of one.
    """
    names = (*service_names, reflection.SERVICE_NAME)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
        DocumentedReflectionServicer(names, documented_files()), server
    )
