# syntax=docker/dockerfile:1
# One image for web, worker and beat; docker-compose.yml gives each its command.
#   docker build -t smartapp .
# The build needs no database, no Redis and no secrets: the values below exist only while
# building and are not in the final image, which refuses to start without real ones.

ARG PYTHON_IMAGE=python:3.11-slim

# Build: the locked dependencies into a virtualenv, then the translations and static files.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
# Exact versions and hashes; wheels only, so nothing is compiled here.
RUN pip install --require-hashes --only-binary=:all: -r /tmp/requirements.lock \
    && pip check
WORKDIR /app
COPY . .
# Build-time settings only. FIELD_ENCRYPTION_KEYS is 32 zero bytes: a valid Fernet key that
# protects nothing. Nothing here encrypts, signs or touches a database.
ENV DJANGO_DEBUG=0 \
    SECRET_KEY=build-time-only-not-a-secret \
    FIELD_ENCRYPTION_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    SANDBOX_ENABLED=0
RUN python manage.py compile_translations \
    && python manage.py collectstatic --noinput \
    && python manage.py check \
    && python -m compileall -q smartapp

# Runtime: the same Python, the virtualenv and the app, owned by root and run by a user who
# cannot change them. HOME is /tmp, the one writable place (gunicorn's control socket).
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/tmp \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 smartapp \
    && useradd --system --uid 10001 --gid smartapp --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin smartapp
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# Readiness (database, broker, cache, migrations). Python's urllib: the slim image has no curl.
# The probes answer before Django's Host check, so asking 127.0.0.1 is enough.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request as u; port = os.environ.get('GUNICORN_BIND', ':8000').rsplit(':', 1)[-1]; sys.exit(u.urlopen(f'http://127.0.0.1:{port}/readyz', timeout=4).status != 200)"]
CMD ["gunicorn", "--config", "gunicorn.conf.py", "smartapp.wsgi:application"]
