#!/bin/bash
# transfer truth for toy_ner (60 train examples): primary alone, + each planted auxiliary, 3 epochs, seeds 1-3
cd /work/main
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1
auxrun -m experiment=toy_planted method=no_sel primary=toy_ner task_set.planted_group=false \
  'task_set.tasks=[toy_ner],[toy_ner,toy_pos],[toy_ner,toy_polartag],[toy_ner,toy_tagnoise]' \
  seed=1,2,3 stage=all hardware.num_threads=1 quiet=true \
  hydra.sweep.dir=/work/main/multirun/planted_tag_diag/transfer_ner
