# Earshot server image: Python 3.11 with Debian's ffmpeg (decoders for every
# format phones and browsers record, libopus and libmp3lame encoders).
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --create-home --home-dir /home/earshot earshot \
    && mkdir -p /data && chown earshot /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY app ./app
COPY migrations ./migrations
RUN pip install --no-cache-dir .

ENV EARSHOT_DATA_DIR=/data \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
USER earshot
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"

CMD ["earshot", "serve", "--host", "0.0.0.0", "--port", "8000"]
