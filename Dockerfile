# syntax=docker/dockerfile:1
# xlt serving images. Only the serving install (no torch, no transformers) and one baked engine folder.
#   docker build -t xlt .                      CPU image (the default target, the last stage)
#   docker build --target gpu -t xlt:gpu .     CUDA image: the same venv plus cuBLAS for CTranslate2's GPU path
#   docker build --build-arg MODEL=other .     bake models/other instead of models/xlt-base
# Settings are XLT_* variables (service/settings.py); the models folder is mountable: -v ./models:/opt/xlt/models
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: a venv with the serving install, copied whole into the runtime stages.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, from pyproject.toml alone (an empty package stands in for the code), so that a change to
# the code reuses this layer.
COPY pyproject.toml README.md ./
# hadolint ignore=DL3013
RUN mkdir service && touch service/__init__.py \
    && pip install ".[postgres]" \
    && rm -rf service build
COPY service/ service/
RUN pip install --no-deps --force-reinstall . \
    && pip uninstall --yes pip \
    && xlt serve --help > /dev/null

# ---- cublas: the one CUDA library CTranslate2 loads for device=cuda (libcuda comes from the host driver).
FROM ${PYTHON_IMAGE} AS cublas
ARG CUBLAS_VERSION=12.9.3.13
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps --target /opt/cuda \
        "nvidia-cublas-cu12==${CUBLAS_VERSION}"

# ---- runtime: what both images share.
FROM ${PYTHON_IMAGE} AS runtime
ARG MODEL=xlt-base
ARG UID=10001
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    XLT_HOST=0.0.0.0 \
    XLT_PORT=8000 \
    XLT_MODELS_DIR=/opt/xlt/models \
    XLT_DATA_DIR=/var/lib/xlt \
    XLT_DEVICE=cpu
# A fixed numeric uid, so that Kubernetes' runAsNonRoot can verify it (docker/k8s/deployment.yaml).
RUN groupadd --system --gid "${UID}" xlt \
    && useradd --system --uid "${UID}" --gid xlt --home-dir /var/lib/xlt --no-create-home \
        --shell /usr/sbin/nologin xlt \
    && install -d -o xlt -g xlt -m 0750 /var/lib/xlt
COPY --from=builder /opt/venv /opt/venv
COPY docker/healthcheck.py /opt/xlt/healthcheck.py
COPY models/${MODEL}/ /opt/xlt/models/${MODEL}/
USER 10001:10001
WORKDIR /var/lib/xlt
VOLUME ["/var/lib/xlt"]
EXPOSE 8000
# Ready, not just alive: 503 while engines load and while draining at shutdown.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/opt/xlt/healthcheck.py"]
ENTRYPOINT ["xlt", "serve"]

# ---- gpu: docker compose --profile gpu, or docker run --gpus all xlt:gpu
FROM runtime AS gpu
COPY --from=cublas /opt/cuda /opt/cuda
ENV LD_LIBRARY_PATH=/opt/cuda/nvidia/cublas/lib \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    XLT_DEVICE=cuda

# ---- cpu: the default target (last stage).
FROM runtime AS cpu
