# Conveyor: one image for every process (web, worker, beat, flower, migrations).
# The default command is the Procfile's web line; docker-compose.yml overrides it per service.
FROM python:3.11-slim

# PYTHONPATH: config.ROOT is derived from where the `config` package sits, so the source tree in
# /app (not the copy `pip install .` puts in site-packages) must be the one imported, for var/ and
# .env to resolve under /app whichever command starts the process.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 conveyor \
 && useradd --system --uid 10001 --gid conveyor --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin conveyor

WORKDIR /app

# DejaVu Sans for invoice PDFs (INVOICE_FONT_PATH's default): names in any European script print as written.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

# Dependencies first, from pyproject.toml alone: this layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep=chr(10))" \
        > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY config/ config/
COPY models/ models/
COPY schemas/ schemas/
COPY services/ services/
COPY tasks/ tasks/
COPY worker/ worker/
COPY web/ web/
COPY migrations/ migrations/
COPY alembic.ini Procfile ./

# The project itself (no dev extras; its dependencies are already in place), then drop the build
# leftovers. var/ is the only writable place: SQLite, flower.db, beat's schedule, metrics files.
# var/metrics and var/uploads exist in the image so that a named volume mounted there starts owned by the app user.
RUN pip install . \
 && rm -rf build conveyor.egg-info \
 && mkdir -p var/metrics var/state var/uploads \
 && chown -R conveyor:conveyor var

USER conveyor

EXPOSE 8000 5555

CMD ["gunicorn", "-c", "config/gunicorn.py", "web:create_app()"]
