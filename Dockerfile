# rewardkit reward service image, for Cloud Run (`gcloud run deploy --source .`),
# Function Compute 3.0 custom containers (deploy/fc/s.yaml) and Kubernetes (deploy/k8s/).
#
# Plain Dockerfile syntax only (no BuildKit cache mounts or heredocs) so that any
# builder, including the one behind `gcloud run deploy --source`, builds it as is.

# ---------------------------------------------------------------- build stage
FROM python:3.11-slim-bookworm AS build

# No PYTHONDONTWRITEBYTECODE here: pip then compiles every installed module to .pyc,
# and the runtime stage (which cannot write them) starts faster with them.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Everything goes into a venv that the runtime stage copies whole: pip, setuptools
# and the wheel build environment stay behind in this stage.
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# Dependency layer. Only pyproject.toml is copied, and the dependency list is read
# from it with the standard library's tomllib, so this layer (the slow one) is
# rebuilt only when pyproject.toml changes, never for a change in the source.
# (`pip install .` here would need the source, and a source edit would then reinstall
# every dependency.) Dependencies declared as `dynamic` cannot be read this way, so
# the build stops with a message instead of silently installing nothing. The image serves every built-in
# reward, so the extra two of them need (vision: Pillow, for image sizes) comes too.
COPY pyproject.toml ./
RUN python -c "import tomllib, sys; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; 'dependencies' in p.get('dynamic', []) and sys.exit('pyproject.toml declares dependencies as dynamic; list them under [project] dependencies'); extras = p.get('optional-dependencies', {}); print('\n'.join(p.get('dependencies', []) + extras['vision']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# Source layer: the project itself, without dependencies (already installed above).
COPY README.md ./
COPY rewardkit ./rewardkit
COPY rewards ./rewards
RUN pip install --no-deps .

# -------------------------------------------------------------- runtime stage
FROM python:3.11-slim-bookworm

# No .pyc writes at run time (the build stage compiled them; the code is read-only to
# the service user) and unbuffered output, so a killed instance loses no log lines.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    REWARDKIT_TARGET=rewards \
    REWARDKIT_HOST=0.0.0.0 \
    PORT=8080

# A fixed uid so file ownership is predictable on every host; a real home directory
# because some libraries cache under ~ (the code itself stays root-owned, read-only).
RUN groupadd --system --gid 10001 rewardkit \
    && useradd --system --uid 10001 --gid rewardkit --create-home --home-dir /home/rewardkit rewardkit

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
# code_tests runs model-written programs as this same user, in new user, network, PID and mount
# namespaces (no root, no capability): the host must allow unprivileged `unshare` and `mount` there
# (docs/code.md: Cloud Run gen2 does; `docker run` needs --security-opt seccomp=unconfined).
USER 10001:10001

# Cloud Run sets PORT itself (8080 by default); Function Compute does not, so its
# s.yaml sets PORT to the function's customContainerConfig.port (9000).
EXPOSE 8080

# Exec form: `rewardkit` is PID 1 and receives SIGTERM directly (no shell in between),
# so the server drains in-flight requests before Cloud Run's SIGKILL 10 s later.
CMD ["rewardkit", "serve"]
