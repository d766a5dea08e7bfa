# The exam_service app image. Migrations run in a separate one-shot container
# (`exam-service db upgrade`); see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md alembic.ini ./
COPY exam_service ./exam_service
COPY migrations ./migrations
COPY question_bank ./question_bank
RUN pip install --no-deps --no-build-isolation -e . && useradd --system --home /app exam \
    && chown -R exam /app
USER exam

ENV EXAM_HOST=0.0.0.0 EXAM_PORT=8000 EXAM_ENV=production
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health')"
CMD ["exam-service", "serve"]
