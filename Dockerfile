# The exam_service app image. Migrations run in a separate one-shot container
# (`exam-service db upgrade`); see docker-compose.yml.

# The fonts every PDF embeds (exam_service/typeset.py), from Debian's packages; only the
# files used are copied into the app image, with their packages' copyright files.
FROM python:3.11-slim AS fonts
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        fonts-liberation fonts-dejavu-core fonts-noto-core fonts-wqy-microhei fonts-symbola \
    && mkdir -p /fonts/licences \
    && for name in LiberationSans-Regular LiberationSans-Bold LiberationSans-Italic \
        LiberationSans-BoldItalic DejaVuSans DejaVuSans-Bold NotoSansArabic-Regular \
        NotoSansArabic-Bold NotoSansHebrew-Regular NotoSansHebrew-Bold Symbola_hint; do \
        cp "$(find /usr/share/fonts -name "$name.ttf" | head -n 1)" /fonts/; done \
    && cp /usr/share/fonts/truetype/wqy/wqy-microhei.ttc /fonts/ \
    && for package in fonts-liberation fonts-dejavu-core fonts-noto-core fonts-wqy-microhei \
        fonts-symbola; do cp "/usr/share/doc/$package/copyright" "/fonts/licences/$package"; done

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY --from=fonts /fonts /usr/share/fonts/exam_service
ENV EXAM_FONT_DIR=/usr/share/fonts/exam_service

COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md alembic.ini ./
COPY exam_service ./exam_service
COPY migrations ./migrations
COPY question_bank ./question_bank
RUN pip install --no-deps --no-build-isolation -e . && useradd --system --home /app exam \
    && chown -R exam /app && python -m exam_service.typeset
USER exam

ENV EXAM_HOST=0.0.0.0 EXAM_PORT=8000 EXAM_ENV=production
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health')"
CMD ["exam-service", "serve"]
