# syntax=docker/dockerfile:1
# Build stage: install the package and its dependencies into a virtual environment.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential libgomp1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY core ./core
COPY decision ./decision
COPY sources ./sources
COPY feature_store ./feature_store
COPY models ./models
COPY training ./training
COPY audit ./audit
COPY shadow ./shadow
COPY feature_flags ./feature_flags
COPY monitoring ./monitoring
COPY review ./review
COPY strategy ./strategy
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir .

# Runtime stage: the virtual environment only, run as an unprivileged user.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 credit
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    CREDIT_DATA_DIR=/data \
    CREDIT_HOST=0.0.0.0 \
    CREDIT_PORT=8000 \
    PYTHONUNBUFFERED=1
RUN mkdir /data && chown credit:credit /data
USER credit
WORKDIR /home/credit
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1
CMD ["credit", "serve"]
