FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1

RUN pip install --no-cache-dir uv==0.13.9

WORKDIR /app

# Dependencies first, so that a code change does not reinstall them.
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --no-install-project

# The project itself (editable, as uv installs it: templates/ and seeds/ stay beside board/).
COPY . .
RUN uv sync --locked --no-dev

RUN useradd --system --uid 10001 --home-dir /app --no-create-home board \
    && mkdir -p /app/var \
    && chown board /app/var

USER board
ENV PATH="/app/.venv/bin:$PATH"
EXPOSE 8000

CMD ["board", "serve", "--host", "0.0.0.0", "--port", "8000"]
