# syntax=docker/dockerfile:1
# Scout service image: stubs generated and wheels built in the first stage,
# a slim non-root runtime in the second.

FROM python:3.11.14-slim-bookworm AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install grpcio-tools==1.85.1
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
RUN pip wheel --wheel-dir /wheels ./clients/python . 

FROM python:3.11.14-slim-bookworm AS runtime
# Pango for WeasyPrint's PDF export; nothing else from the OS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0=1.50.* libpangoft2-1.0-0=1.50.* \
      fonts-dejavu-core=2.37-* \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin scout
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels scout-service==0.1.0 scout-client==0.1.0 \
 && rm -rf /wheels
WORKDIR /app
USER 10001
# matplotlib (export charts) keeps its font cache here: /app is not writable.
ENV SCOUT_LISTEN_ADDRESS=0.0.0.0:50051 \
    SCOUT_METRICS_ADDRESS=0.0.0.0:9464 \
    MPLCONFIGDIR=/tmp/matplotlib \
    PYTHONUNBUFFERED=1
EXPOSE 50051 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-m", "scout_service.healthcheck"]
ENTRYPOINT ["scout-service"]
CMD ["serve"]
