# agio serve in a container: the HTTP API on 0.0.0.0:8000, its data in the /data volume.
#
#   docker build -t agio .
#   docker run -p 8000:8000 -e AGIO_API_KEYS=change-me -v agio-data:/data agio
#
# The image holds no keys: set AGIO_API_KEYS (and AGIO_OPENAI_API_KEY, AGIO_DEFAULT_MODEL, …)
# at run time. Without AGIO_API_KEYS the container does not start: `agio serve` refuses a
# non-loopback bind without keys (append `--insecure` to the command to serve without them).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AGIO_HOME=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY agio_core ./agio_core
COPY agio_cli ./agio_cli
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data agio \
    && mkdir -p /data \
    && chown agio /data

USER agio
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=3)"
# `agio serve`, not plain uvicorn: it adds the request header and body deadlines and the
# connection bound (AGIO_HEADER_TIMEOUT_S, AGIO_BODY_TIMEOUT_S, AGIO_MAX_CONNECTIONS), and
# refuses to serve beyond loopback without keys. `docker stop` sends SIGTERM: streams close, running runs are left
# interrupted (resumable) within 5 s.
CMD ["agio", "serve", "--host", "0.0.0.0", "--port", "8000"]
