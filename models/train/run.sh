#!/usr/bin/env bash
# Trains the pre-filter and the detector from synthetic data and rewrites the
# bundles models/prefilter, models/detector and models/triton/detector/1.
#
# Idempotent: the venv, the generated data and the checkpoints live under
# $IFC_CACHE (default $HOME/.cache/ifc), never in the checkout, and each stage
# is skipped when its inputs have not changed (FORCE=1 retrains anyway).
#
#   models/train/run.sh            # what `make models` runs
#   FORCE=1 models/train/run.sh    # retrain even if the checkpoints are current
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IFC_CACHE=${IFC_CACHE:-$HOME/.cache/ifc}
VENV=$IFC_CACHE/venv
DATA=$IFC_CACHE/data/synth-v1
CACHE=$IFC_CACHE/data/cache
WORK=$IFC_CACHE/work
LOGS=$IFC_CACHE/logs
PY=$VENV/bin/python
TRAIN=$ROOT/models/train

# Sizes and seeds. Changing any of them regenerates data and retrains.
TRAIN_N=8000 VAL_N=1000 TEST_N=1000 SIZE=320 DEFECT_RATE=0.5
PRE_EPOCHS=6 PRE_CROP=160 PRE_FULL_IMAGES=1500
DET_EPOCHS=12 DET_CROP=192 DET_FULL_IMAGES=2000 # stage 1, from random weights
DET2_EPOCHS=7 DET2_LR=0.001                      # stage 2, from stage 1
DET3_EPOCHS=6 DET3_LR=0.0005 DET3_WH=2           # stage 3, from stage 2 (DET3_WH: size-loss weight)
DET4_EPOCHS=3 DET4_LR=0.00025                    # stage 4, from stage 3 (same size-loss weight)

mkdir -p "$DATA" "$CACHE" "$WORK" "$LOGS"
cd "$ROOT"
start=$(date +%s)
stage() { echo "== $(date -u +%H:%M:%S) [$(($(date +%s) - start))s] $*"; }

stage "venv $VENV"
if [ ! -x "$PY" ]; then
	python3 -m venv "$VENV"
fi
want=$(sha256sum "$TRAIN/requirements.txt" | cut -d' ' -f1)
if [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
	"$PY" -m pip install --disable-pip-version-check -r "$TRAIN/requirements.txt"
	echo "$want" >"$VENV/.requirements.sha256"
fi

# Data: one directory per split, regenerated when the generator or its flags change.
gen_hash=$(ls models/synth/*.go models/synth/cmd/synthgen/*.go | grep -v _test.go | xargs cat | sha256sum | cut -c1-16)
gen() { # split n extra-flags...
	local split=$1 n=$2 dir=$DATA/$1
	shift 2
	local stamp="$gen_hash n=$n size=$SIZE rate=$DEFECT_RATE $*"
	if [ -f "$dir/labels.jsonl" ] && [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ]; then
		stage "data $split: up to date"
		return
	fi
	stage "data $split: generating $n images"
	rm -rf "$dir"
	rm -f "$CACHE/${split}_"*.npy
	go run ./models/synth/cmd/synthgen --out "$dir" --split "$split" --n "$n" --size "$SIZE" \
		--defect-rate "$DEFECT_RATE" --workers "$(nproc)" "$@"
	echo "$stamp" >"$dir/.stamp"
}
gen train "$TRAIN_N"
gen val "$VAL_N"
gen test "$TEST_N"
# Golden images at another aspect ratio (exercises the letterbox), from the
# test seed far beyond the test indices.
gen golden 8 --seed 99 --start 1000000 --width 400 --height 300 --format png

# Training: skipped when the checkpoint was made from the same data and code.
data_hash=$(cat "$DATA"/{train,val}/.stamp | sha256sum | cut -c1-16)
train() { # name args (for the detector the args only label the stamp; its stages are below)
	local name=$1
	shift
	local code_hash stamp
	code_hash=$(cat "$TRAIN/train_$name.py" "$TRAIN/train_detector.py" "$TRAIN/finalize.py" "$TRAIN/nets.py" \
		"$TRAIN/prep.py" "$TRAIN/evaluate.py" |
		sha256sum | cut -c1-16)
	stamp="$code_hash $data_hash $*"
	if [ "${FORCE:-0}" != 1 ] && [ -f "$WORK/$name.final.json" ] && [ "$(cat "$WORK/$name.stamp" 2>/dev/null)" = "$stamp" ]; then
		stage "train $name: checkpoint up to date"
		return
	fi
	stage "train $name (log: $LOGS/train_$name.log)"
	rm -f "$WORK/$name.stamp"
	if [ "$name" = detector ]; then
		# Four stages, as separate runs, each from the previous checkpoint with a new seed
		# and a fresh one-cycle schedule at a lower learning rate: 12 epochs from random
		# weights, then 7, then 6 and 3 more with the size loss weighted 2 (each run: crop
		# epochs + 1 whole-image epoch).
		(cd "$TRAIN" && OMP_NUM_THREADS=1 "$PY" train_detector.py --data "$DATA" --cache "$CACHE" \
			--out "$WORK/detector_stage1.pt" --threads 1 --epochs "$DET_EPOCHS" --crop "$DET_CROP" --full-epochs 1 \
			--full-images "$DET_FULL_IMAGES" >"$LOGS/train_detector_stage1.log" 2>&1)
		(cd "$TRAIN" && OMP_NUM_THREADS=1 "$PY" train_detector.py --data "$DATA" --cache "$CACHE" \
			--out "$WORK/detector_stage2.pt" --init "$WORK/detector_stage1.pt" --threads 1 --epochs "$DET2_EPOCHS" \
			--crop "$DET_CROP" --full-epochs 1 --full-images "$DET_FULL_IMAGES" --lr "$DET2_LR" --seed 2 \
			>"$LOGS/train_detector_stage2.log" 2>&1)
		(cd "$TRAIN" && OMP_NUM_THREADS=1 "$PY" train_detector.py --data "$DATA" --cache "$CACHE" \
			--out "$WORK/detector_stage3.pt" --init "$WORK/detector_stage2.pt" --threads 1 --epochs "$DET3_EPOCHS" \
			--crop "$DET_CROP" --full-epochs 1 --full-images "$DET_FULL_IMAGES" --lr "$DET3_LR" --seed 3 \
			--wh-weight "$DET3_WH" >"$LOGS/train_detector_stage3.log" 2>&1)
		(cd "$TRAIN" && OMP_NUM_THREADS=1 "$PY" train_detector.py --data "$DATA" --cache "$CACHE" \
			--out "$WORK/detector.pt" --init "$WORK/detector_stage3.pt" --threads 1 --epochs "$DET4_EPOCHS" \
			--crop "$DET_CROP" --full-epochs 1 --full-images "$DET_FULL_IMAGES" --lr "$DET4_LR" --seed 4 \
			--wh-weight "$DET3_WH" >"$LOGS/train_detector.log" 2>&1)
	else
		(cd "$TRAIN" && OMP_NUM_THREADS=1 "$PY" "train_$name.py" --data "$DATA" --cache "$CACHE" --out "$WORK/$name.pt" \
			--threads 1 "$@" >"$LOGS/train_$name.log" 2>&1)
	fi
	# BatchNorm re-estimation on whole training images, then the threshold on val.
	(cd "$TRAIN" && OMP_NUM_THREADS=1 "$PY" finalize.py --model "$name" --data "$DATA" --cache "$CACHE" --work "$WORK" \
		--threads 1 >>"$LOGS/train_$name.log" 2>&1)
	echo "$stamp" >"$WORK/$name.stamp"
	stage "train $name: done"
	tail -n 3 "$LOGS/train_$name.log"
}
# Fill the letterbox caches once, then train both models side by side, one
# thread each: on a busy two-core machine two single-threaded trainings are
# much faster than OpenMP threads waiting on each other at every barrier.
(cd "$TRAIN" && "$PY" -c "
import prep
for size in (320,):
    for split in ('train', 'val', 'test'):
        prep.load_split('$DATA/' + split, size, 'area', '$CACHE')
")
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT # a failed training stops the other one
train prefilter --epochs "$PRE_EPOCHS" --crop "$PRE_CROP" --full-epochs 1 --full-images "$PRE_FULL_IMAGES" &
pre=$!
train detector "stage1 $DET_EPOCHS $DET_CROP $DET_FULL_IMAGES stage2 $DET2_EPOCHS $DET2_LR stage3 $DET3_EPOCHS $DET3_LR $DET3_WH stage4 $DET4_EPOCHS $DET4_LR" &
det=$!
wait "$pre"
wait "$det"

stage "export, evaluate on the test split, write bundles"
(cd "$TRAIN" && "$PY" bundle.py --data "$DATA" --cache "$CACHE" --work "$WORK" --golden "$DATA/golden" --repo "$ROOT" 2>&1 |
	tee "$LOGS/bundle.log")
(cd "$TRAIN" && "$PY" cards.py "$ROOT")
stage "done"
ls -l models/prefilter/model.onnx models/detector/model.onnx models/triton/detector/1/model.onnx
