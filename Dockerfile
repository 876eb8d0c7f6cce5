# syntax=docker/dockerfile:1
# Scout service image: stubs generated and wheels built in the first stage,
# a slim non-root runtime in the second. Every Python package comes from the
# lock files in requirements/ with its hash checked; the two local packages
# are built here and installed without dependencies on top of them.
# The base image is pinned by tag and by digest (see README, "Docker").

FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements/build.txt requirements/build.txt
RUN pip install --require-hashes -r requirements/build.txt
COPY protos/ protos/
COPY clients/python/ clients/python/
# Generate the stubs inside the image from protos/ (never trust a stale copy).
RUN rm -rf clients/python/src/scout/v1 \
 && python -m grpc_tools.protoc -Iprotos --python_out=clients/python/src \
      --pyi_out=clients/python/src --grpc_python_out=clients/python/src protos/scout/v1/*.proto \
 && python -m grpc_tools.protoc -Iprotos --include_source_info \
      --descriptor_set_out=clients/python/src/scout/v1/descriptor_set.binpb protos/scout/v1/*.proto
COPY pyproject.toml README.md ./
COPY scout_service/ scout_service/
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /wheels ./clients/python .

FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS runtime
# Pango for WeasyPrint's PDF export; nothing else from the OS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0=1.50.* libpangoft2-1.0-0=1.50.* \
      fonts-dejavu-core=2.37-* \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin scout
# The service with its pdf and otel extras, without the embedded DynamoDB or dev tools.
COPY requirements/runtime.txt /tmp/runtime.txt
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --require-hashes -r /tmp/runtime.txt \
 && pip install --no-cache-dir --no-deps --no-index /wheels/scout_client-0.1.0-*.whl \
      /wheels/scout_service-0.1.0-*.whl \
 && rm -rf /wheels /tmp/runtime.txt
WORKDIR /app
USER 10001
# matplotlib (export charts) keeps its font cache here: /app is not writable.
ENV SCOUT_LISTEN_ADDRESS=0.0.0.0:50051 \
    SCOUT_METRICS_ADDRESS=0.0.0.0:9464 \
    MPLCONFIGDIR=/tmp/matplotlib \
    SCOUT_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
EXPOSE 50051 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-m", "scout_service.healthcheck"]
ENTRYPOINT ["scout-service"]
CMD ["serve"]
