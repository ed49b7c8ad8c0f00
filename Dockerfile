# syntax=docker/dockerfile:1
# One image for every Orderflow process: `docker run IMAGE worker|bridge|api|setup|codec-server`.
#
#   docker buildx build --build-arg BUILD_ID="$(git rev-parse HEAD)" \
#     --build-arg VCS_REF="$(git rev-parse HEAD)" -t orderflow:"$(git rev-parse HEAD)" .
#
# Base: slim Debian, not Alpine: aiokafka publishes no musllinux wheel, so Alpine would need a C
# toolchain and an unhashed sdist build (measurement in docs/operations/deployment.md).
# Pinned by tag and digest (the multi-platform index): the same bytes on every build. Refresh:
# Renovate proposes a new digest (.github/renovate.json, docker:pinDigests); by hand, see
# docs/operations/deployment.md, "Base image". Keep the Python minor in step with
# scripts/lock.sh (PYTHON_VERSION).
ARG PYTHON_IMAGE=python:3.11.16-slim-trixie@sha256:be1575ed968de893bd54f4c56315ff7c4736ce522c1bca08fd521731aafc0d76

# ---------------------------------------------------------------------------------------------
# Build stage: pip + the pinned build backend; builds the app wheel and the runtime venv.
# No compiler: every locked package is installed from a wheel (--only-binary), so a package
# that loses its wheel fails the build instead of compiling something unreviewed.
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src

# Locks first: this layer is rebuilt only when a lock changes, not on every code change.
COPY requirements/build.lock requirements/runtime.lock requirements/
RUN python -m venv /opt/build-tools \
    && /opt/build-tools/bin/pip install --require-hashes --no-deps --only-binary=:all: \
        -r requirements/build.lock \
    && python -m venv --without-pip /opt/orderflow \
    && /opt/build-tools/bin/pip --python /opt/orderflow/bin/python install \
        --require-hashes --no-deps --only-binary=:all: -r requirements/runtime.lock

COPY pyproject.toml README.md ./
COPY contracts/ contracts/
COPY workflows/ workflows/
COPY activities/ activities/
COPY bridges/ bridges/
COPY workers/ workers/
COPY api/ api/
COPY db/ db/
COPY config/ config/
COPY provisioning/ provisioning/
COPY probes/ probes/
COPY codec/ codec/
COPY loadgen/ loadgen/
COPY orderflow/ orderflow/
COPY migrations/ migrations/
# The app itself: a wheel built with the locked backend, installed without dependencies (the
# lock above is the complete set; `pip check` proves nothing is missing). pip byte-compiles at
# install time on purpose: the runtime user cannot write to /opt/orderflow.
RUN /opt/build-tools/bin/pip wheel --no-build-isolation --no-deps --wheel-dir /tmp/dist . \
    && /opt/build-tools/bin/pip --python /opt/orderflow/bin/python install --no-deps /tmp/dist/*.whl \
    && /opt/build-tools/bin/pip --python /opt/orderflow/bin/python check

# ---------------------------------------------------------------------------------------------
# Runtime stage: the interpreter, the venv, nothing else (no pip in the venv, no compilers).
FROM ${PYTHON_IMAGE} AS runtime

# The image tag (git SHA). It is the worker's Temporal Worker Deployment Versioning build ID,
# so an image built without it must not exist.
ARG BUILD_ID
ARG VCS_REF=unknown
ARG BUILD_DATE=unknown
ARG SOURCE_URL=unknown
RUN test -n "${BUILD_ID}" || { echo "build with --build-arg BUILD_ID=<image tag>" >&2; exit 1; }

LABEL org.opencontainers.image.title="orderflow" \
      org.opencontainers.image.description="Orderflow: Kafka orders -> one durable Temporal workflow per order -> PostgreSQL" \
      org.opencontainers.image.version="${BUILD_ID}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.created="${BUILD_DATE}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Proprietary" \
      org.opencontainers.image.base.name="python:3.11.16-slim-trixie"

# ORDERFLOW_API__HOST: the API listens on every interface inside the container (the default,
# loopback, suits a laptop only). Log format json: what Log Analytics parses.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/orderflow/bin:${PATH} \
    ORDERFLOW_TELEMETRY__LOG_FORMAT=json \
    ORDERFLOW_API__HOST=0.0.0.0 \
    ORDERFLOW_WORKER__BUILD_ID=${BUILD_ID}

# A fixed numeric UID/GID so Kubernetes-style runAsNonRoot checks can verify it.
RUN groupadd --system --gid 10001 orderflow \
    && useradd --system --uid 10001 --gid orderflow --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin orderflow

COPY --from=build /opt/orderflow /opt/orderflow
COPY scripts/deploy/healthcheck.py /opt/orderflow/healthcheck.py

# An empty working directory owned by root: no stray .env is read, nothing is writable.
WORKDIR /app
USER 10001:10001

# api 8000, worker 8081, bridge 8082, codec-server 8088 (each a setting; see healthcheck.py).
EXPOSE 8000 8081 8082 8088

# For Docker/Compose. One check for every command: it finds the orderflow command the container
# runs and probes that command's /health/live port; `setup` and the tools have no server and
# report healthy. Azure Container Apps ignores HEALTHCHECK and uses the app's own probes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "/opt/orderflow/healthcheck.py"]

ENTRYPOINT ["orderflow"]
CMD ["api"]
