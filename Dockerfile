# The user code image: the project installed with its Dagster code server. deploy/docker-compose.yaml
# and deploy/helm/values.yaml run it as the gRPC code server (this CMD); the same image also runs the
# webserver and the daemon (they need the same Dagster release and the PostgreSQL storage), and the
# Stripe emulator for a trial without a Stripe account.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/home

WORKDIR /opt/stripe-report-pipelines

# Dependencies first, so a change to the catalogue or the code reuses this layer.
COPY pyproject.toml constraints.txt README.md LICENSE ./
COPY pipelines ./pipelines
COPY stripe_emulator ./stripe_emulator
# Editable: the catalogue (reports.yaml, sql/) is read next to the package, at this project root.
RUN pip install -c constraints.txt -e ".[alerts,emulator]"

COPY definitions.py workspace.yaml reports.yaml ./
COPY sql ./sql
COPY deploy ./deploy
COPY deploy/dagster.yaml /opt/dagster/home/dagster.yaml

# No root at run time; runs started by the code server write only their temporary result files.
RUN useradd --system --uid 10001 --home-dir /opt/dagster/home dagster \
    && mkdir -p data \
    && chown -R dagster /opt/dagster/home data
USER dagster

EXPOSE 4000
HEALTHCHECK --interval=30s --timeout=20s --start-period=60s \
    CMD ["dagster", "api", "grpc-health-check", "-p", "4000"]
CMD ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "4000", "-m", "definitions", "-d", "/opt/stripe-report-pipelines"]
