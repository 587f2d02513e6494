# The hub's image: every role (api, relay, worker, mocks) is a subcommand of `lgsp`.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock
COPY hub hub
COPY connectors connectors
COPY schemas schemas
RUN pip install --no-cache-dir --no-deps . && useradd --system lgsp
USER lgsp
ENTRYPOINT ["lgsp"]
CMD ["api", "--host", "0.0.0.0"]
