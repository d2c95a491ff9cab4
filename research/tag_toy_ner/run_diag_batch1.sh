#!/bin/bash
# light diagnostics: toy_sentiment and toy_pairpol seed 1 (contrast), toy_ner seeds 2-5
source /work/notes/helperD/env.sh
export DIAG_LIGHT=1
cd /work/main
for spec in toy_sentiment:1 toy_ner:2 toy_ner:3 toy_ner:4 toy_ner:5 toy_pairpol:1; do
  p=${spec%%:*}; s=${spec##*:}
  out=/work/main/multirun/planted_tag_diag/${p#toy_}_s${s}
  [ -f $out/tag_diag.json ] && continue
  /usr/bin/time -f "$p s$s user %U s wall %e s" python /work/notes/helperD/tag_diag.py experiment=toy_planted method=tag primary=$p seed=$s stage=select hardware.num_threads=1 quiet=true hydra.run.dir=$out 2>&1 | grep -v Loading
done
