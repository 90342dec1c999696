# One image for every Python service of the compose stack: the API, the Temporal worker, the voice
# worker and the one-shot jobs (migrations, Temporal namespace setup). Which one runs is the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin ringflow

WORKDIR /build
# The package and its runtime dependencies only (no `[dev]` extra). The packages are listed one by one
# so that the image holds exactly what pyproject.toml ships, and nothing from tests/ or bench/.
COPY pyproject.toml README.md ./
COPY schemas/ schemas/
COPY workflows/ workflows/
COPY activities/ activities/
COPY worker/ worker/
COPY api/ api/
COPY voice_worker/ voice_worker/
COPY store/ store/
COPY telephony/ telephony/
COPY infra/ infra/
COPY simulator/ simulator/
COPY cli/ cli/
# The voices extra too: the voice worker runs whichever vendor's model an agent names.
RUN pip install '.[voices]' && rm -rf /build

USER ringflow
# Not the source tree: a `.env` or `.ringflow/` lying around must not change what the container does.
WORKDIR /home/ringflow
ENV RINGFLOW_DATA_DIR=/home/ringflow/.ringflow

# 8000: API and dashboard; 8001: the worker's /healthz, /readyz, /metrics; 8081: the voice worker's health.
EXPOSE 8000 8001 8081
CMD ["ringflow", "--help"]
