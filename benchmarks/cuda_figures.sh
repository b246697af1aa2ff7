#!/usr/bin/env bash
# The CUDA figures of issue 27 in one run, on a machine with an NVIDIA GPU and onnxruntime-gpu
# importable (pip install 'bdscan[gpu]' and the lab, or PYTHONPATH set to both).
#
#   OUT=bench-out/cuda bash benchmarks/cuda_figures.sh
#
# On a machine without network, onnxruntime-gpu travels packed by benchmarks/pack_ort_gpu.py;
# the 2026-12-04 run unpacked it to /tmp/site and found CUDA 13's and cuDNN 9's libraries with
#   find /opt /usr/local /usr/lib -xdev \( -name libcudnn.so.9 -o -name libcublas.so.13 -o \
#     -name libcudart.so.13 -o -name libcurand.so.10 -o -name libcufft.so.12 \) -printf '%h\n'
# (their folders joined into LD_LIBRARY_PATH, PYTHONPATH=/tmp/site) before running this.
#
# Writes to $OUT: env.txt; throughput-cuda-{small,224}.json (the scanner's worker against onnxruntime alone,
# and onnxruntime with the batch bound on the GPU, plain and as a CUDA graph); scans.tar.gz (the
# example models scanned with --device cuda and --device cpu, and random-weight models of each
# zoo architecture scanned on CUDA for their cost); log.txt. Random weights measure throughput
# and cost, never a verdict.
set -u
OUT=${OUT:-bench-out/cuda}
PY=${PY:-python3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PYTHONPATH="$ROOT:$ROOT/lab${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
SCANS=${SCANS:-/tmp/bdscan-cuda-scans}
mkdir -p "$OUT" "$SCANS/scans"
MODELS=${MODELS:-/tmp/bdscan-cuda-models}
DEVICE=${DEVICE:-cuda}  # cpu: a smoke run of this script on a machine without a GPU
SIZES=${SIZES:-32,64,224}
Q_SMALL=${Q_SMALL:-32768}
Q_224=${Q_224:-4096}
ROUNDS=${ROUNDS:-1}
STAGES=${STAGES:-throughput examples zoo throughput224 resnet18}  # a subset reruns part of it
want() { [[ " $STAGES " == *" $1 "* ]]; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
BENCH='import sys; from bdscan_lab.cli import bench; sys.exit(bench())'  # `bdscan bench`, uninstalled
stage() { echo "== $(date -u +%H:%M:%S) $*"; }

stage environment
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  "$PY" - <<'EOF'
import platform, numpy, onnx, onnxruntime as ort
print("python", platform.python_version(), "numpy", numpy.__version__, "onnx", onnx.__version__)
print("onnxruntime", ort.__version__, ort.__file__)
print("providers", ort.get_available_providers())
sess = ort.InferenceSession("examples/models/clean_cnn.onnx", providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
print("a session on examples/models/clean_cnn.onnx runs on", sess.get_providers())
try:
    import torch
    print("torch", torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no cuda")
except Exception as e:  # torch is not needed for the scan figures
    print("torch:", e)
EOF
  nproc
} 2>&1 | tee "$OUT/env.txt"

stage models
"$PY" -c "$BENCH" models --out "$MODELS" --sizes "$SIZES" --classes 10,100 2>&1 | tail -30

if want throughput; then
stage "throughput, 28-64 px"
small=$(ls "$MODELS"/zoo_{mlp,cnn,lenet,resnet8,mobilenet,senet,gn_resnet,resnet14w,vgg_bn,vit}_28.onnx \
  "$MODELS"/resnet18_{32,64}px_*.onnx "$MODELS"/mobilenetv2_{32,64}px_*.onnx 2>/dev/null)
timeout 200 "$PY" -c "$BENCH" throughput $small --device "$DEVICE" --queries "$Q_SMALL" --rounds "$ROUNDS" \
  --out "$OUT/throughput-$DEVICE-small.json" 2>&1 | grep -v "^|"
fi

if want examples; then
stage "example scans, $DEVICE and cpu"
for m in badnets_cnn clean_cnn; do
  for d in $DEVICE cpu; do
    s=$(date +%s%N)
    timeout 120 "$PY" -m scanner scan "examples/models/$m.onnx" --data examples/data/fmnist_clean.npz \
      --device $d --no-cache --quiet --json "$SCANS/scans/${m}_$d.json"
    echo "$m $d exit $? $(ms "$s") ms"
  done
done
fi

if want zoo; then
stage "zoo architectures scanned on $DEVICE (random weights: cost only)"
for a in mlp cnn resnet8 mobilenet senet gn_resnet resnet14w vgg_bn vit; do
  s=$(date +%s%N)
  timeout 120 "$PY" -m scanner scan "$MODELS/zoo_${a}_28.onnx" --data examples/data/fmnist_clean.npz \
    --device "$DEVICE" --no-cache --quiet --json "$SCANS/scans/zoo_${a}_$DEVICE.json"
  echo "zoo_$a $DEVICE exit $? $(ms "$s") ms"
done
fi

tar czf "$OUT/scans.tar.gz" -C "$SCANS" scans  # now, in case a later stage runs out of time

if want throughput224; then
stage "throughput, 224 px"
[ -e "$MODELS/resnet18_224px_10c.onnx" ] && timeout 120 "$PY" -c "$BENCH" throughput \
  "$MODELS"/resnet18_224px_*.onnx "$MODELS"/mobilenetv2_224px_*.onnx \
  --device "$DEVICE" --queries "$Q_224" --rounds "$ROUNDS" --out "$OUT/throughput-$DEVICE-224.json" 2>&1 | grep -v "^|"
fi

if want resnet18; then
stage "ResNet-18 end to end on $DEVICE"
timeout 90 "$PY" benchmarks/resnet18_scan.py --size 32 --planes 2 --resolution 20 --device "$DEVICE"
[ "$DEVICE" = cuda ] && timeout 120 "$PY" benchmarks/resnet18_scan.py --size 224 --planes 2 \
  --resolution 20 --device cuda
fi

stage done
tar czf "$OUT/scans.tar.gz" -C "$SCANS" scans
