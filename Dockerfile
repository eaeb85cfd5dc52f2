# The production image: web (gunicorn), worker and beat all run from it (see docker-compose.yml).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/data/media \
    EXPORTS_ROOT=/data/exports

WORKDIR /app
RUN useradd --system --uid 10001 --create-home --home-dir /home/app app

# Dependencies first, exactly as locked (`make lock` writes the lock from pyproject.toml; the code itself runs
# from /app), so code edits reuse this layer.
COPY requirements/lock.txt requirements/
RUN pip install -r requirements/lock.txt

COPY . .
# Static files are collected into the image; the throw-away key exists only for this build step.
RUN SECRET_KEY="collectstatic-only-$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
        DJANGO_ENV=production ALLOWED_HOSTS=build python manage.py collectstatic --noinput \
    && mkdir -p /app/var /data/media /data/exports \
    && chown -R app:app /app/var /data/media /data/exports

USER app
EXPOSE 8000
CMD ["gunicorn", "--config", "gunicorn.conf.py", "annotator.wsgi"]
