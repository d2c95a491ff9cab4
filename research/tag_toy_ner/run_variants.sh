#!/bin/bash
# toy_ner TAG variants, seeds 1-3 (selection only), plain method (snapshot of HEAD)
source /work/notes/helperD/env.sh
cd /work/main
B=/work/main/multirun/planted_tag_diag/variants
run() { name=$1; shift
  [ -d $B/$name ] && return
  /usr/bin/time -f "$name user %U s wall %e s" auxrun -m experiment=toy_planted method=tag primary=toy_ner seed=1,2,3 stage=select hardware.num_threads=1 quiet=true "$@" hydra.sweep.dir=$B/$name 2>&1 | grep -v Loading | tail -2
}
run every2 method.every=2
run ep1 method.epochs=1
run ep10 method.epochs=10
run lr5e-4 train.lr=5e-4
run lr8e-3 train.lr=8e-3
run cap300 data.train_cap.toy_ner=300
